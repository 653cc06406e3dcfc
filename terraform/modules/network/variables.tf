variable "name" {
  type        = string
  description = "Environment name prefix (pipeline-<env>) used in resource names and Name tags."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; private subnets are its first /4-longer slices, optional NAT subnets /8-longer slices from index 240."
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

variable "enable_nat_gateway" {
  type        = bool
  description = "Create public subnets and NAT gateway(s) for outbound internet access. Off by default: the VPC endpoints cover every AWS API the tasks call."
  default     = false
}

variable "single_nat_gateway" {
  type        = bool
  description = "With enable_nat_gateway, use one NAT gateway for all zones (cheaper) instead of one per zone (zone-independent)."
  default     = true
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "AWS services reached through interface VPC endpoints (service suffix of com.amazonaws.<region>.<service>). ec2 serves the run launcher's DescribeNetworkInterfaces, sns the run-failure alerts, sqs the raw_data sensor draining the arrivals queue."
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ecs", "sts", "ec2", "sns", "sqs"]

  validation {
    condition     = length(setsubtract(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ecs", "sts", "sqs"], var.interface_endpoint_services)) == 0
    error_message = "interface_endpoint_services must include ecr.api, ecr.dkr, logs, secretsmanager, ecs, sts and sqs."
  }
}

variable "alb_ingress_cidrs" {
  type        = list(string)
  description = "Client networks (VPN, peered or corporate ranges) allowed to reach the internal ALB on 443 (and 80 for the redirect)."

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for c in var.alb_ingress_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "alb_ingress_cidrs must be a non-empty list of IPv4 CIDRs, never 0.0.0.0/0."
  }
}

variable "alb_identity_provider_egress" {
  type        = bool
  description = "Let the ALB call an OIDC identity provider over HTTPS (needed with OIDC authentication; requires enable_nat_gateway)."
  default     = false
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
