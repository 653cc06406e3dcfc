# Private network for every task: no public IPs, AWS APIs reached through VPC endpoints, a NAT
# gateway only when var.enable_nat_gateway asks for one, and security groups that open exactly
# the flows the services need.

# The zones are pinned by name: the set never grows by itself when AWS adds a zone, and the plan
# fails if one of them is not available to the account.
data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == length(var.availability_zones)
      error_message = "Every zone in availability_zones must exist and be available in this region."
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  azs        = data.aws_availability_zones.selected.names
  az_count   = length(var.availability_zones)
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  nat_count  = var.enable_nat_gateway ? (var.single_nat_gateway ? 1 : local.az_count) : 0

  # One security group per ECS workload; the run worker group is also used by the scheduled
  # reprocess task.
  task_security_groups = {
    webserver   = "Dagster webserver tasks: 3000 from the ALB only"
    daemon      = "Dagster daemon task: no inbound traffic"
    code_server = "Dagster code server tasks: gRPC 4000 from webserver and daemon"
    run_worker  = "Dagster run worker and reprocess tasks: no inbound traffic"
  }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = var.name
  }
}

# The default security group allows nothing; every workload gets its own group below.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-default-deny"
  }
}

resource "aws_subnet" "private" {
  count = local.az_count

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.cidr_block, 4, count.index)
  map_public_ip_on_launch = false

  tags = {
    Name = "${var.name}-private-${local.azs[count.index]}"
    Tier = "private"
  }
}

resource "aws_route_table" "private" {
  count = local.az_count

  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-private-${local.azs[count.index]}"
  }
}

resource "aws_route_table_association" "private" {
  count = local.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# ---------------------------------------------------------------------------------------------
# Optional egress to the internet (off by default): public subnets hold only the NAT gateways.
# ---------------------------------------------------------------------------------------------

resource "aws_subnet" "public" {
  count = var.enable_nat_gateway ? local.az_count : 0

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.cidr_block, 8, 240 + count.index)
  map_public_ip_on_launch = false

  tags = {
    Name = "${var.name}-public-${local.azs[count.index]}"
    Tier = "public"
  }
}

resource "aws_internet_gateway" "this" {
  count = var.enable_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = {
    Name = var.name
  }
}

resource "aws_route_table" "public" {
  count = var.enable_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route" "public_internet" {
  count = var.enable_nat_gateway ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = var.enable_nat_gateway ? local.az_count : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  #checkov:skip=CKV2_AWS_19:The Elastic IP belongs to a NAT gateway, not to an EC2 instance.
  count = local.nat_count

  domain = "vpc"

  tags = {
    Name = "${var.name}-nat-${count.index}"
  }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = {
    Name = "${var.name}-nat-${count.index}"
  }
}

resource "aws_route" "private_nat" {
  count = var.enable_nat_gateway ? local.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

# ---------------------------------------------------------------------------------------------
# VPC endpoints: S3 (gateway) and the interface endpoints the tasks call, so no NAT is needed.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "s3_endpoint" {
  #checkov:skip=CKV_AWS_283:ECR serves image layers through URLs it presigns itself, so the layer-bucket statement must admit any principal (AWS's documented endpoint policy); it only allows GetObject on that one bucket.
  statement {
    sid    = "BucketsOfThisAccount"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetBucketLocation",
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "EcrImageLayers"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::prod-${local.region}-starport-layer-bucket/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  policy            = data.aws_iam_policy_document.s3_endpoint.json

  tags = {
    Name = "${var.name}-s3"
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoint_services)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${local.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = {
    Name = "${var.name}-${each.value}"
  }
}

# ---------------------------------------------------------------------------------------------
# Security groups. Rules are separate resources so each flow is reviewable on its own.
# ---------------------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules through this module's outputs (the ALB); checkov does not follow module outputs.
  name        = "${var.name}-alb"
  description = "Internal ALB in front of the Dagster webserver"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-alb"
  }
}

resource "aws_security_group" "task" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules through this module's outputs (ECS services, run tasks, the scheduler); checkov does not follow module outputs.
  for_each = local.task_security_groups

  name        = "${var.name}-${replace(each.key, "_", "-")}"
  description = each.value
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-${replace(each.key, "_", "-")}"
  }
}

resource "aws_security_group" "rds" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules through this module's outputs (the RDS instance); checkov does not follow module outputs.
  name        = "${var.name}-rds"
  description = "PostgreSQL for the Dagster instance: 5432 from the ECS task groups only"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-rds"
  }
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from the ECS task groups only"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-endpoints"
  }
}

# Clients -> ALB (HTTPS, and HTTP only to be redirected to HTTPS).
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS to the Dagster UI from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from ${each.value}, answered with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

# ALB -> OIDC identity provider (token and user info endpoints), only with OIDC authentication.
# An internal ALB reaches the internet through the NAT gateway of its private subnets.
resource "aws_vpc_security_group_egress_rule" "alb_to_identity_provider" {
  count = var.alb_identity_provider_egress ? 1 : 0

  security_group_id = aws_security_group.alb.id
  description       = "ALB to the OIDC identity provider (token and user info endpoints)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  lifecycle {
    precondition {
      condition     = var.enable_nat_gateway
      error_message = "OIDC authentication on the internal ALB needs enable_nat_gateway = true: the load balancer calls the identity provider."
    }
  }
}

# ALB -> webserver:3000.
resource "aws_vpc_security_group_egress_rule" "alb_to_webserver" {
  security_group_id            = aws_security_group.alb.id
  description                  = "ALB to the webserver tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.webserver_port
  to_port                      = var.webserver_port
  referenced_security_group_id = aws_security_group.task["webserver"].id
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_alb" {
  security_group_id            = aws_security_group.task["webserver"].id
  description                  = "Webserver port from the ALB only"
  ip_protocol                  = "tcp"
  from_port                    = var.webserver_port
  to_port                      = var.webserver_port
  referenced_security_group_id = aws_security_group.alb.id
}

# Webserver and daemon -> code server gRPC:4000.
resource "aws_vpc_security_group_egress_rule" "to_code_server" {
  for_each = toset(["webserver", "daemon"])

  security_group_id            = aws_security_group.task[each.value].id
  description                  = "${each.value} to the code server gRPC port"
  ip_protocol                  = "tcp"
  from_port                    = var.code_server_port
  to_port                      = var.code_server_port
  referenced_security_group_id = aws_security_group.task["code_server"].id
}

resource "aws_vpc_security_group_ingress_rule" "code_server_from" {
  for_each = toset(["webserver", "daemon"])

  security_group_id            = aws_security_group.task["code_server"].id
  description                  = "Code server gRPC from the ${each.value} tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.code_server_port
  to_port                      = var.code_server_port
  referenced_security_group_id = aws_security_group.task[each.value].id
}

# Every task -> PostgreSQL:5432, and PostgreSQL accepts only the task groups.
resource "aws_vpc_security_group_egress_rule" "task_to_rds" {
  for_each = local.task_security_groups

  security_group_id            = aws_security_group.task[each.key].id
  description                  = "${each.key} to PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rds.id
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_task" {
  for_each = local.task_security_groups

  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.task[each.key].id
}

# Every task -> interface endpoints:443 and S3 (gateway endpoint prefix list):443.
resource "aws_vpc_security_group_egress_rule" "task_to_endpoints" {
  for_each = local.task_security_groups

  security_group_id            = aws_security_group.task[each.key].id
  description                  = "${each.key} to the interface VPC endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_task" {
  for_each = local.task_security_groups

  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.task[each.key].id
}

resource "aws_vpc_security_group_egress_rule" "task_to_s3" {
  for_each = local.task_security_groups

  security_group_id = aws_security_group.task[each.key].id
  description       = "${each.key} to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

# Only with the optional NAT gateway: HTTPS to the internet.
resource "aws_vpc_security_group_egress_rule" "task_to_internet" {
  for_each = var.enable_nat_gateway ? local.task_security_groups : {}

  security_group_id = aws_security_group.task[each.key].id
  description       = "${each.key} to HTTPS endpoints on the internet through the NAT gateway"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# ---------------------------------------------------------------------------------------------
# VPC flow logs to an encrypted CloudWatch log group.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment by var.log_retention_days: prod keeps 400 days, dev 30 to save cost.
  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name}-vpc-flow-logs"
  description        = "Lets VPC flow logs write to ${aws_cloudwatch_log_group.flow_logs.name}"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = [
      aws_cloudwatch_log_group.flow_logs.arn,
      "${aws_cloudwatch_log_group.flow_logs.arn}:*",
    ]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 60

  tags = {
    Name = var.name
  }
}
