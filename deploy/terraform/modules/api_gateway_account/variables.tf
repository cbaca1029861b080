variable "name" {
  description = "Begins the name of the role API Gateway writes its logs with (NAME-apigw-logs-..., with a unique suffix)."
  type        = string
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
