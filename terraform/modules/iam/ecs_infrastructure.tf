# ---------------------------------------------------------------------------------------------
# ECS infrastructure role: ECS shifts the webserver's ALB traffic during blue/green deployments.
# The AWS managed policy is the documented, AWS-maintained permission set for exactly this role.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_infrastructure_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "ecs_infrastructure" {
  name               = "${var.name}-ecs-infrastructure"
  description        = "ECS: shift ALB traffic between blue and green target groups of the webserver"
  assume_role_policy = data.aws_iam_policy_document.ecs_infrastructure_assume.json
}

resource "aws_iam_role_policy_attachment" "ecs_infrastructure" {
  role       = aws_iam_role.ecs_infrastructure.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}
