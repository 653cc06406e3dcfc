# Private network for every task: no public IPs, AWS APIs reached through VPC endpoints, and
# security groups that open exactly the flows the services need. Three subnet tiers per zone:
#   private (tasks, RDS, interface endpoints): no route to the internet at all;
#   alb (the internal load balancer): default route to the NAT gateway, because the ALB itself
#     calls the OIDC identity provider's token and user info endpoints;
#   public: only the NAT gateway(s) and their internet gateway.
# The lean profile (nat_instance_type set, dev): one NAT instance replaces the NAT gateways and
# the interface endpoints, and the tasks reach AWS APIs through it, on HTTPS only.

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
  # Lean profile: one NAT instance for the ALB and the tasks, no NAT gateway, no interface endpoint.
  nat_instance      = var.nat_instance_type != null
  nat_count         = local.nat_instance ? 0 : (var.single_nat_gateway ? 1 : local.az_count)
  endpoint_services = local.nat_instance ? [] : var.interface_endpoint_services

  # One security group per ECS workload; the run worker group is also used by the scheduled
  # reprocess task. db_setup has its own group although it needs the same flows as a run worker
  # (PostgreSQL, plus the endpoints and S3 for its image, secret and logs): an administrator's
  # one-off task stays apart from what DAGSTER_RUN_SECURITY_GROUP hands to every run, and
  # RDS's ingress rule and the flow logs name it.
  task_security_groups = {
    webserver   = "Dagster webserver tasks: 3000 from the ALB only"
    daemon      = "Dagster daemon task: no inbound traffic"
    code_server = "Dagster code server tasks: gRPC 4000 from webserver and daemon"
    run_worker  = "Dagster run worker and reprocess tasks: no inbound traffic"
    db_setup    = "One-off db-setup task: PostgreSQL only, no inbound traffic"
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

# Task subnets route only inside the VPC and to S3 (gateway endpoint): no 0.0.0.0/0 route, so a
# task cannot reach the internet whatever its security group says.
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
# Load balancer subnets: the internal ALB only. Their default route goes to the NAT gateway so
# that the ALB can call the identity provider; nothing else runs here.
# ---------------------------------------------------------------------------------------------

resource "aws_subnet" "alb" {
  count = local.az_count

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.cidr_block, 8, 224 + count.index)
  map_public_ip_on_launch = false

  tags = {
    Name = "${var.name}-alb-${local.azs[count.index]}"
    Tier = "alb"
  }
}

resource "aws_route_table" "alb" {
  count = local.az_count

  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-alb-${local.azs[count.index]}"
  }
}

resource "aws_route_table_association" "alb" {
  count = local.az_count

  subnet_id      = aws_subnet.alb[count.index].id
  route_table_id = aws_route_table.alb[count.index].id
}

resource "aws_route" "alb_nat" {
  count = local.az_count

  route_table_id         = aws_route_table.alb[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = local.nat_instance ? null : aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
  network_interface_id   = local.nat_instance ? aws_instance.nat[0].primary_network_interface_id : null
}

# Lean profile only: the task subnets' way to AWS APIs is the NAT instance (no interface endpoints).
resource "aws_route" "private_nat" {
  count = local.nat_instance ? local.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  network_interface_id   = aws_instance.nat[0].primary_network_interface_id
}

# ---------------------------------------------------------------------------------------------
# Public subnets: only the NAT gateway(s) for the ALB's identity provider calls. One NAT gateway
# costs about 33 USD a month plus data processing (one per zone in prod).
# ---------------------------------------------------------------------------------------------

resource "aws_subnet" "public" {
  count = local.az_count

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
  vpc_id = aws_vpc.this.id

  tags = {
    Name = var.name
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = local.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  #checkov:skip=CKV2_AWS_19:The Elastic IP belongs to a NAT gateway, or to the NAT instance through aws_eip_association, which checkov does not follow.
  count = local.nat_instance ? 1 : local.nat_count

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

# ---------------------------------------------------------------------------------------------
# NAT instance (lean profile): Amazon Linux 2023 forwarding HTTPS from the VPC, masqueraded. It
# accepts 443 from the ALB and task groups only, makes no AWS call (no role) and has no SSH.
# ---------------------------------------------------------------------------------------------

data "aws_ami" "nat" {
  count = local.nat_instance ? 1 : 0

  owners      = ["amazon"]
  most_recent = true

  filter {
    name   = "name"
    values = ["al2023-ami-2023.*-kernel-*-arm64"]
  }

  filter {
    name   = "architecture"
    values = ["arm64"]
  }
}

resource "aws_instance" "nat" {
  #checkov:skip=CKV2_AWS_41:The NAT instance makes no AWS call; an instance role would only be a credential to steal.
  #checkov:skip=CKV_AWS_126:Detailed monitoring would cost 2.10 USD a month, a twentieth of the lean profile; the basic 5-minute metrics stay on.
  count = local.nat_instance ? 1 : 0

  ami                    = data.aws_ami.nat[0].id
  instance_type          = var.nat_instance_type
  subnet_id              = aws_subnet.public[0].id
  vpc_security_group_ids = [aws_security_group.nat.id]
  source_dest_check      = false
  ebs_optimized          = true
  monitoring             = false
  user_data              = file("${path.module}/nat-instance.sh")

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  # EC2 moves the instance to healthy hardware on a host failure (same address, same volume).
  maintenance_options {
    auto_recovery = "default"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.nat_instance_volume_gb
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = {
    Name = "${var.name}-nat"
  }

  # A newer AMI is taken when the instance is replaced on purpose, not at every plan.
  lifecycle {
    ignore_changes = [ami]
  }
}

resource "aws_eip_association" "nat" {
  count = local.nat_instance ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  instance_id   = aws_instance.nat[0].id
}

# ---------------------------------------------------------------------------------------------
# VPC endpoints: S3 (gateway) and the interface endpoints the tasks call (they have no other way
# out of the VPC).
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

# Interface endpoints serve only this account's principals: stolen credentials of another account
# cannot use them to move data out. Where a resource has an owner account, it must be this one
# too (IfExists: calls such as sts:GetCallerIdentity or ecr:GetAuthorizationToken name no
# resource).
data "aws_iam_policy_document" "interface_endpoint" {
  #checkov:skip=CKV_AWS_1:VPC endpoint policy, not an identity policy: it grants nothing, it only narrows what IAM already allows through the endpoint to this account's principals.
  #checkov:skip=CKV_AWS_49:VPC endpoint policy: every action is admitted on purpose (the task roles decide), only for principals of this account.
  #checkov:skip=CKV2_AWS_40:VPC endpoint policy: no IAM privileges are granted by it; the condition aws:PrincipalAccount limits the endpoint to this account.
  statement {
    sid       = "ThisAccountOnly"
    effect    = "Allow"
    actions   = ["*"]
    resources = ["*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(local.endpoint_services)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${local.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  policy              = data.aws_iam_policy_document.interface_endpoint.json

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

resource "aws_security_group" "nat" {
  name        = "${var.name}-nat"
  description = "NAT instance of the lean profile: HTTPS from the ALB and task groups, HTTPS out"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-nat"
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

# Operators -> ALB (HTTPS, and HTTP only to be redirected to HTTPS), from their networks only.
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.operator_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS to the Dagster UI from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  for_each = toset(var.operator_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from ${each.value}, answered with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

# ALB -> OIDC identity provider (token and user info endpoints) through the NAT gateway of the
# ALB subnets. The only internet egress rule of the VPC, on the ALB's group alone.
resource "aws_vpc_security_group_egress_rule" "alb_to_identity_provider" {
  security_group_id = aws_security_group.alb.id
  description       = "ALB to the OIDC identity provider (token and user info endpoints)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# Lean profile: tasks -> AWS APIs over HTTPS through the NAT instance (a security group sees the
# final address, so the rule names the internet); the NAT instance forwards HTTPS only.
resource "aws_vpc_security_group_egress_rule" "task_to_aws_apis_via_nat" {
  for_each = local.nat_instance ? local.task_security_groups : {}

  security_group_id = aws_security_group.task[each.key].id
  description       = "${each.key} to AWS APIs over HTTPS through the NAT instance"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "nat_from" {
  for_each = local.nat_instance ? merge(local.task_security_groups, { alb = "" }) : {}

  security_group_id            = aws_security_group.nat.id
  description                  = "HTTPS to be forwarded, from the ${each.key} group"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.key == "alb" ? aws_security_group.alb.id : aws_security_group.task[each.key].id
}

resource "aws_vpc_security_group_egress_rule" "nat_to_internet" {
  count = local.nat_instance ? 1 : 0

  security_group_id = aws_security_group.nat.id
  description       = "NAT instance forwards HTTPS to AWS APIs and the identity provider"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
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
  for_each = local.nat_instance ? {} : local.task_security_groups

  security_group_id            = aws_security_group.task[each.key].id
  description                  = "${each.key} to the interface VPC endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_task" {
  for_each = local.nat_instance ? {} : local.task_security_groups

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
