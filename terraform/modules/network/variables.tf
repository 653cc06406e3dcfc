variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>) used in resource names and Name tags."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; task subnets are its first /4-longer slices, ALB subnets /8-longer slices from index 224, NAT subnets from index 240."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 20
    error_message = "cidr_block must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zone names (2 to 4) of the region; one private subnet per zone."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 to 4 distinct zone names."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for every zone's ALB subnet (cheaper) instead of one per zone (the identity provider stays reachable when a zone fails). Only the ALB routes through it. Ignored with nat_instance_type."
  default     = true
}

variable "nat_instance_type" {
  type        = string
  description = "Lean profile: one NAT instance of this Graviton type (arm64, in the first zone) replaces the NAT gateways and the interface endpoints, and the tasks reach AWS APIs through it on HTTPS; no zone redundancy. null (the default) keeps NAT gateways and endpoints, with no internet route for the tasks."
  default     = null

  validation {
    condition     = var.nat_instance_type == null || can(regex("^[a-z][0-9]+g[a-z]*[.][a-z0-9]+$", var.nat_instance_type))
    error_message = "nat_instance_type must be a Graviton (arm64) instance type such as t4g.nano, or null."
  }
}

variable "nat_instance_volume_gb" {
  type        = number
  description = "Root volume of the NAT instance in GiB (gp3, encrypted); the Amazon Linux 2023 image needs 8 at least."
  default     = 8

  validation {
    condition     = var.nat_instance_volume_gb >= 8
    error_message = "nat_instance_volume_gb must be at least 8."
  }
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "AWS services reached through interface VPC endpoints (service suffix of com.amazonaws.<region>.<service>): the tasks' only way to AWS APIs but S3. sns serves the run-failure alerts, sqs the raw_data sensor draining the arrivals queue, secretsmanager the db-setup task's master password. No ec2: the run launcher never looks up network interfaces (use_current_ecs_task_config is false)."
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ecs", "sts", "sns", "sqs"]

  validation {
    condition     = length(setsubtract(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ecs", "sts", "sqs"], var.interface_endpoint_services)) == 0
    error_message = "interface_endpoint_services must include ecr.api, ecr.dkr, logs, secretsmanager, ecs, sts and sqs."
  }
}

variable "operator_cidrs" {
  type        = list(string)
  description = "Operator networks (VPN client pools, office ranges) allowed to reach the internal ALB on 443 (and 80 for the redirect). Nothing else reaches the UI."
  nullable    = false

  validation {
    condition     = length(var.operator_cidrs) > 0
    error_message = "operator_cidrs must name at least one operator network."
  }

  validation {
    condition     = alltrue([for c in var.operator_cidrs : can(regex("^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+/[0-9]+$", c)) && can(cidrhost(c, 0)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "operator_cidrs: every entry must be an IPv4 network in CIDR notation (a.b.c.d/n, host bits zero)."
  }

  validation {
    condition     = alltrue([for c in var.operator_cidrs : c != "0.0.0.0/0" && try(tonumber(split("/", c)[1]) >= 16, false)])
    error_message = "operator_cidrs: never 0.0.0.0/0, and every prefix must be /16 or longer (name the VPN and office ranges, not whole address blocks)."
  }
}

variable "webserver_port" {
  type        = number
  description = "Port the Dagster webserver listens on."
  default     = 3000
}

variable "code_server_port" {
  type        = number
  description = "gRPC port of the Dagster code server."
  default     = 4000
}

variable "flow_log_retention_days" {
  type        = number
  description = "Retention of the VPC flow log group in days."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the flow log group."
}
