output "bucket" {
  description = "The bucket's name: the authorizer module's bundle_bucket."
  value       = aws_s3_bucket.this.bucket

  # Whatever uses the name (the authorizer's function) waits for the first
  # bundle and the bucket policy: its first cold start then finds a policy
  # instead of denying every request with policy_not_ready.
  depends_on = [aws_s3_object.bundle, aws_s3_bucket_policy.this]
}

output "bucket_arn" {
  description = "The bucket's ARN, for the policy of whoever publishes bundles (CI: s3:PutObject on bundle_object_arn)."
  value       = aws_s3_bucket.this.arn
}

output "bundle_key" {
  description = "The bundle object's key: the authorizer module's bundle_key, and where CI uploads."
  value       = var.bundle_key
}

output "bundle_object_arn" {
  description = "The bundle object's ARN: what the function may read (s3:GetObject) and CI may write (s3:PutObject), and nothing more."
  value       = "arn:${data.aws_partition.current.partition}:s3:::${aws_s3_bucket.this.bucket}/${var.bundle_key}"
}
