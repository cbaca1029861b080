# API Gateway's account settings for one region: the role it writes REST and
# WebSocket access and execution logs with. There is one such setting per
# account and region, shared by every API in it, and destroying this module
# leaves it in place (API Gateway cannot unset it). Use it where nothing else
# manages the setting; HTTP APIs do not need it.

data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cloudwatch" {
  name               = "${var.name}-apigateway-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cloudwatch" {
  role       = aws_iam_role.cloudwatch.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.cloudwatch.arn

  # API Gateway checks that it can use the role when it is set.
  depends_on = [aws_iam_role_policy_attachment.cloudwatch]
}
