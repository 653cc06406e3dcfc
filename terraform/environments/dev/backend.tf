# Remote state in the bucket created by terraform/bootstrap, with S3-native locking. The bucket
# and region are given at init, for example:
#   terraform init -backend-config="bucket=pipeline-tfstate-<account id>" -backend-config="region=<region>"
terraform {
  backend "s3" {
    key          = "pipeline/dev/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
  }
}
