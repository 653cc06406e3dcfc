# The deploy role's terraform plan (deploy.tf): it refreshes every resource of the stack, so it
# reads them all. Read-only calls, scoped to the environment's resources wherever the action
# supports resource-level permissions.
data "aws_iam_policy_document" "deploy_plan_refresh" {
  statement {
    sid    = "RefreshActionsWithoutResourceLevelPermissions"
    effect = "Allow"
    actions = [
      "ec2:DescribeAddresses",
      "ec2:DescribeAddressesAttribute",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeFlowLogs",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceCreditSpecifications",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeNatGateways",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribePrefixLists",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeTags",
      "ec2:DescribeVolumes",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeVpcs",
      "elasticloadbalancing:DescribeCapacityReservation",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetGroups",
      "iam:ListOpenIDConnectProviders",
      "kms:ListAliases",
      "logs:DescribeLogGroups",
      "servicediscovery:GetOperation",
    ]
    resources = ["*"]
  }

  statement {
    sid    = "RefreshEnvironmentResources"
    effect = "Allow"
    actions = [
      "cloudwatch:DescribeAlarms",
      "cloudwatch:GetDashboard",
      "cloudwatch:ListTagsForResource",
      "ecs:DescribeCapacityProviders",
      "ecs:DescribeClusters",
      "ecs:ListTagsForResource",
      "events:DescribeRule",
      "events:ListTagsForResource",
      "events:ListTargetsByRule",
      "iam:GetOpenIDConnectProvider",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "logs:ListTagsForResource",
      "ec2:DescribeInstanceAttribute",
      "ec2:DescribeVpcAttribute",
      "rds:DescribeDBInstances",
      "rds:DescribeDBParameterGroups",
      "rds:DescribeDBParameters",
      "rds:DescribeDBSubnetGroups",
      "rds:ListTagsForResource",
      "route53:GetHostedZone",
      "route53:ListResourceRecordSets",
      "scheduler:GetSchedule",
      "servicediscovery:GetNamespace",
      "servicediscovery:GetService",
      "servicediscovery:ListTagsForResource",
      "sns:GetSubscriptionAttributes",
      "sns:GetTopicAttributes",
      "sns:ListTagsForResource",
      "sqs:GetQueueAttributes",
      "sqs:ListQueueTags",
    ]
    resources = [
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.name}",
      local.cluster_arn,
      "${local.ecs_arn}:capacity-provider/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/*",
      "${local.ecs_arn}:task-definition/${var.name}-*:*",
      "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-*",
      "arn:${local.partition}:iam::${local.account_id}:oidc-provider/*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name}-*",
      var.kms_key_arn,
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.name}*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/vpc/${var.name}/*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/rds/instance/${var.name}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:${var.name}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:pg:${var.name}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:subgrp:${var.name}-*",
      "arn:${local.partition}:route53:::hostedzone/*",
      "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${var.name}-*",
      "arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:namespace/*",
      "arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:service/*",
      "arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.name}-*",
      "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${var.name}-*",
    ]
  }

  statement {
    sid    = "RefreshEnvironmentBuckets"
    effect = "Allow"
    actions = [
      "s3:ListBucket",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLocation",
      "s3:GetBucketLogging",
      "s3:GetBucketNotification",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
    ]
    resources = ["arn:${local.partition}:s3:::${var.name}-*"]
  }
}
