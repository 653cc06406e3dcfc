# Applied once per AWS account, with local state (see terraform/README.md): it creates what the
# environments' remote state and deploy roles rely on.
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.4"
    }
  }
}

provider "aws" {
  region              = var.aws_region
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      Project   = "pipeline"
      ManagedBy = "terraform"
      Component = "bootstrap"
    }
  }
}
