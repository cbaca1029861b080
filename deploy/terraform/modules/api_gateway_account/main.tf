# API Gateway's account settings for one region: the role it writes REST and
# WebSocket access and execution logs with. There is one such setting per
# account and region, shared by every API in it. Use this module where nothing
# else manages the setting; HTTP APIs do not need it. Destroying it deletes the
# role, and with the AWS provider 5.x leaves the setting naming the deleted
# role: every REST and WebSocket API of the region stops logging until another
# role is set. Keep it for as long as any API of the region logs.

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
  # IAM names are global to the account: a prefix keeps two regions apart.
  name_prefix        = "${substr(var.name, 0, 20)}-apigw-logs-"
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
