# The lake: raw-data/ (written by producers, read-only for the pipeline), reports/, quarantine/,
# compute-logs/ (Dagster step logs) and work/ (sharded runs' short-lived intermediate files).
# Versioned, private, TLS-only, tiered by lifecycle, with EventBridge notifications on.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  bucket_name = "${var.name}-data-${data.aws_caller_identity.current.account_id}"
  bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket_name}"
  use_kms     = var.kms_key_arn != null
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Single-region lake by design; versioning plus lifecycle cover recovery, replication is a separate DR decision.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the required default; SSE-KMS is switched on by setting var.kms_key_arn.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_logging" "this" {
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.access_log_prefix}${local.bucket_name}/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }
}

resource "aws_s3_bucket_notification" "this" {
  bucket      = aws_s3_bucket.this.id
  eventbridge = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Raw files are read once by the daily run and again only when a day is reprocessed.
  rule {
    id     = "raw-data-tiering"
    status = "Enabled"

    filter {
      prefix = "raw-data/"
    }

    transition {
      days          = var.raw_data_infrequent_access_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.raw_data_archive_days
      storage_class = var.raw_data_archive_storage_class
    }
  }

  rule {
    id     = "compute-logs-expiry"
    status = "Enabled"

    filter {
      prefix = "compute-logs/"
    }

    expiration {
      days = var.compute_log_expiration_days
    }
  }

  # Shards' intermediate files: the publish step deletes them, a crashed run leaves them behind.
  # Expire them (and the versions a delete leaves) within days, not with the bucket-wide rule.
  rule {
    id     = "work-expiry"
    status = "Enabled"

    filter {
      prefix = "work/"
    }

    expiration {
      days = var.work_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.work_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.work_expiration_days
    }
  }

  # Whole bucket: old versions go after a while, unfinished multipart uploads never linger.
  rule {
    id     = "noncurrent-versions-and-incomplete-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
