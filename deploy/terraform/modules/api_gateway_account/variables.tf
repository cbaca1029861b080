variable "name" {
  description = "Prefix of the role API Gateway writes its logs with (NAME-apigateway-cloudwatch)."
  type        = string
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
