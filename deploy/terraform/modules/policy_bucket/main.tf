# The bucket the signed policy bundle lives in. The authorizer polls one object
# in it (bundle_key); CI replaces that object to change the policy, with no
# deployment. Whoever can write the object changes what every request is
# decided by, so the bundle is signed (the function verifies it with
# AUTHZ_BUNDLE_PUBLIC_KEY) and the bucket is locked down as below.

data "aws_partition" "current" {}

resource "aws_s3_bucket" "this" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

# Every policy revision stays recoverable: a bad bundle is rolled back by
# copying the previous version over the current one, and the versions say
# which policy was in force when (the decision log names the revision).
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

# SSE-S3: the function's role can read the object with s3:GetObject alone. With
# SSE-KMS it would also need kms:Decrypt (the authorizer module's
# bundle_kms_key_arn). bucket_key_enabled does nothing for SSE-S3; it is set so
# that a switch to SSE-KMS does not make every poll a KMS request.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: access is decided by IAM and the bucket policy alone, and an
# object uploaded from another account still belongs to this one.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Plain HTTP is refused. The actions are listed rather than s3:*, which this
# repository does not write anywhere (the tests of deploy/ refuse it): they are the
# reads, writes and listings that carry or reveal a bundle.
data "aws_iam_policy_document" "bucket" {
  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectAttributes",
      "s3:GetObjectVersionAttributes",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:ListBucket",
      "s3:ListBucketVersions",
    ]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "AWS"
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
  policy = data.aws_iam_policy_document.bucket.json

  # S3 answers OperationAborted to a bucket policy written while the public
  # access block is being changed; in this order the two never race.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_object" "bundle" {
  count = var.initial_bundle == null ? 0 : 1

  bucket       = aws_s3_bucket.this.id
  key          = var.bundle_key
  source       = var.initial_bundle
  source_hash  = filemd5(var.initial_bundle)
  content_type = "application/gzip"
  tags         = var.tags

  # Terraform uploads the first bundle only. CI replaces the object afterwards
  # (aws s3 cp bundle.tar.gz s3://BUCKET/KEY) and the function polls it, so
  # Terraform must not put an old bundle back: an apply from a checkout with a
  # stale bundle.tar.gz would otherwise roll the policy back silently.
  #
  # Nor delete it: deleting an object of a versioned bucket, the AWS provider
  # deletes every version of the key, that is every policy CI published since,
  # and a function that cold-starts after that denies every request
  # (policy_not_ready). Destroying it, or setting initial_bundle back to null,
  # is refused at plan time; to let the stack go, take the object out of the
  # state first (terraform state rm 'module.policy_bucket.aws_s3_object.bundle[0]')
  # and empty the bucket deliberately.
  lifecycle {
    ignore_changes  = [source, source_hash, etag]
    prevent_destroy = true
  }

  # Versioning first, so that even the first bundle is a version that can be
  # restored; encryption first, so that it is written encrypted as configured.
  depends_on = [
    aws_s3_bucket_versioning.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_s3_bucket_ownership_controls.this,
  ]
}
