terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The authorizer module's logging_config needs 5.32.
      version = ">= 5.32.0"
    }
  }
}

provider "aws" {
  region = var.region
}
