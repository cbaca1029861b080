variable "bucket_name" {
  description = "Name of the bucket the signed policy bundle lives in. S3 names are global: include the account and region, for instance."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit."
  }
}

variable "bundle_key" {
  description = "Key of the bundle object: what CI uploads to (aws s3 cp bundle.tar.gz s3://BUCKET/KEY) and the authorizer module's bundle_key."
  type        = string
  default     = "authz/bundle.tar.gz"

  validation {
    condition     = length(var.bundle_key) > 0 && !startswith(var.bundle_key, "/") && !strcontains(var.bundle_key, "*")
    error_message = "bundle_key must be an object key: not empty, no leading /, no *."
  }
}

variable "initial_bundle" {
  description = "Path of a local bundle.tar.gz (make bundle ... SIGNING_KEY=key.pem writes one at the repository root) to upload when the bucket is created, so that the function has a policy from its first invocation; null to leave the bucket empty for CI to fill. Later changes to the file are not uploaded: CI owns the object. Terraform never deletes it (it would delete every version with it): see the object's lifecycle in main.tf."
  type        = string
  default     = null

  validation {
    condition     = var.initial_bundle == null ? true : endswith(var.initial_bundle, ".tar.gz")
    error_message = "initial_bundle must be a .tar.gz bundle (make bundle writes bundle.tar.gz), or null."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket with every bundle version in it. False by default: the versions are the history of what policy was enforced when."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket and the bundle object."
  type        = map(string)
  default     = {}
}
