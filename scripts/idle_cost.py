"""Monthly cost of each environment at idle, computed from the Terraform configuration.

Reads each environment's values (what its root passes to modules/pipeline, and the defaults of the
variables it leaves out) and the modules' resources, applies the unit prices below (the assumptions
docs/deploy.md states) and prints one line per item and environment, then one JSON line of the
totals (for example {"dev": 57.3, "prod": 402.1}). "Idle" means no data arriving: what runs around the clock; run tasks
cost nothing until a run starts.

Every resource of the modules is either priced by a line below (LINES names the resources each
line covers) or listed as free at idle (FREE_AT_IDLE); pipeline_project_tests/deploy/
test_idle_cost.py fails when a resource is neither.

usage: python scripts/idle_cost.py      (make cost)
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

TERRAFORM = Path(__file__).resolve().parents[1] / "terraform"
ENVIRONMENTS = ("dev", "prod")
HOURS = 730  # a month

# Unit prices in USD (us-east-1, on demand, Linux), as docs/deploy.md section 11 states them.
PRICES = {
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
    "fargate_spot_factor": 0.30,  # Spot assumed ~70% cheaper
    "rds_hour": {"db.t4g.micro": 0.016, "db.t4g.medium": 0.065, "db.m7g.large": 0.168},  # Single-AZ
    "rds_gp3_gb_month": 0.115,  # Multi-AZ doubles instance and storage
    "interface_endpoint_az_hour": 0.01,
    "nat_gateway_hour": 0.045,
    "public_ipv4_hour": 0.005,
    "ec2_hour": {"t4g.nano": 0.0042, "t4g.micro": 0.0084},
    "ebs_gp3_gb_month": 0.08,
    "alb_hour": 0.0225,
    "alb_lcu_hour": 0.008,
    "alb_idle_lcu": 0.1,
    "logs_ingested_gb": 0.50,
    "logs_stored_gb_month": 0.03,
    "logs_gb_per_service_task_month": 1.0,  # services, flow logs and RDS monitoring, per service task
    "metric_month": 0.30,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "container_insights_enhanced_task_month": 5.00,
    "kms_key_month": 1.00,
    "kms_10k_requests": 0.03,
    "sqs_kms_data_key_requests_month": 8_800,  # one every 5 minutes (kms_data_key_reuse_period_seconds)
    "secret_month": 0.40,
    "private_zone_month": 0.50,
    "ecr_gb_month": 0.10,
    "ecr_image_gb": 2.0,
    "s3_idle_month": 1.00,
}
# The pipeline's EMF metrics (pipeline_project/observability/emf.py), one Environment dimension each.
CUSTOM_METRICS = 7

OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True)


@functools.cache  # python-hcl2 takes seconds for the whole tree; each file is read once
def parse(path: Path) -> dict:
    return hcl2.loads(path.read_text(), serialization_options=OPTIONS)


def literal(value):
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def module_resources() -> dict[str, dict]:
    """Every resource of terraform/modules as "module/type.name" -> its body."""
    found = {}
    for path in sorted((TERRAFORM / "modules").glob("*/*.tf")):
        for entry in parse(path).get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    found[f"{path.parent.name}/{rtype}.{name}"] = body
    return found


def variable_defaults(directory: Path) -> dict:
    defaults = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in parse(path).get("variable", []):
            for name, body in entry.items():
                if "default" in body:
                    defaults[name] = literal(body["default"])
    return defaults


def environment_values(environment: str) -> dict:
    """What an environment sets: the defaults of modules/pipeline overlaid with the values its root
    passes to it (terraform/environments/<env>/main.tf), which are its tfvars."""
    values = variable_defaults(TERRAFORM / "modules" / "pipeline")
    root = parse(TERRAFORM / "environments" / environment / "main.tf")
    ((call,),) = [entry.values() for entry in root["module"] if "pipeline" in entry]
    values.update({k: literal(v) for k, v in call.items() if k != "source"})
    return values


def module_default(module: str, variable: str):
    return variable_defaults(TERRAFORM / "modules" / module)[variable]


# --- The model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    item: str
    covers: tuple[str, ...]  # the resources ("module/type.name") this line prices
    cost: Callable[[dict], tuple[float, str]]  # environment values -> (USD a month, arithmetic)


def service_tasks(v: dict) -> list[tuple[str, int, float, float]]:
    """(service, tasks, vCPU, GB) of the three long-running services."""
    return [
        ("webserver", v["webserver_desired_count"], v["webserver_cpu"] / 1024, v["webserver_memory"] / 1024),
        ("daemon", 1, v["daemon_cpu"] / 1024, v["daemon_memory"] / 1024),
        ("code server", v["code_server_desired_count"], v["code_server_cpu"] / 1024, v["code_server_memory"] / 1024),
    ]


def task_count(v: dict) -> int:
    return sum(n for _, n, _, _ in service_tasks(v))


def fargate(v: dict):
    vcpu = sum(n * c for _, n, c, _ in service_tasks(v))
    gb = sum(n * m for _, n, _, m in service_tasks(v))
    on_demand = (vcpu * PRICES["fargate_vcpu_hour"] + gb * PRICES["fargate_gb_hour"]) * HOURS
    spot = v["service_capacity_provider"] == "FARGATE_SPOT"
    factor = PRICES["fargate_spot_factor"] if spot else 1.0
    sizes = ", ".join(f"{name} {n} x {c:g} vCPU/{m:g} GB" for name, n, c, m in service_tasks(v))
    return on_demand * factor, f"{sizes}: {vcpu:g} vCPU, {gb:g} GB, {on_demand:.2f} on demand" + (
        " x 0.3 (FARGATE_SPOT)" if spot else " (FARGATE)"
    )


def multi_az(v: dict) -> int:
    return 2 if v["db_multi_az"] else 1


def az_label(v: dict) -> str:
    return "x 2 (Multi-AZ)" if v["db_multi_az"] else "(Single-AZ)"


def rds_instance(v: dict):
    hourly = PRICES["rds_hour"][v["db_instance_class"]]
    insights = "Performance Insights 7 days (free)" if v["db_performance_insights"] else "no Performance Insights"
    return hourly * HOURS * multi_az(v), f"{v['db_instance_class']} {hourly}/h {az_label(v)}, {insights}"


def rds_storage(v: dict):
    gb = v["db_allocated_storage_gb"]
    return gb * PRICES["rds_gp3_gb_month"] * multi_az(v), f"{gb} GB gp3 x {PRICES['rds_gp3_gb_month']} {az_label(v)}"


def nat_instance(v: dict) -> bool:
    return v["nat_instance_type"] is not None


def zones(v: dict) -> int:
    return len(v["availability_zones"])


def interface_endpoints(v: dict):
    if nat_instance(v):
        return 0.0, "none: the tasks reach AWS APIs through the NAT instance"
    services = module_default("network", "interface_endpoint_services")
    per_az = PRICES["interface_endpoint_az_hour"] * HOURS
    return len(services) * zones(v) * per_az, f"{len(services)} services x {zones(v)} AZs x {per_az:.2f}"


def nat_gateways(v: dict) -> int:
    if nat_instance(v):
        return 0
    return 1 if v["single_nat_gateway"] else zones(v)


def nat_gateway(v: dict):
    n = nat_gateways(v)
    return n * PRICES["nat_gateway_hour"] * HOURS, f"{n} x {PRICES['nat_gateway_hour']}/h"


def nat_ec2(v: dict):
    if not nat_instance(v):
        return 0.0, "none (NAT gateways)"
    kind, gb = v["nat_instance_type"], module_default("network", "nat_instance_volume_gb")
    hourly = PRICES["ec2_hour"][kind]
    cost = hourly * HOURS + gb * PRICES["ebs_gp3_gb_month"]
    return cost, f"{kind} {hourly}/h + {gb} GB gp3 x {PRICES['ebs_gp3_gb_month']}"


def public_ipv4(v: dict):
    n = 1 if nat_instance(v) else nat_gateways(v)
    return n * PRICES["public_ipv4_hour"] * HOURS, f"{n} Elastic IP x {PRICES['public_ipv4_hour']}/h"


def alb(v: dict):
    hourly = PRICES["alb_hour"] + PRICES["alb_idle_lcu"] * PRICES["alb_lcu_hour"]
    return hourly * HOURS, f"{PRICES['alb_hour']}/h + {PRICES['alb_idle_lcu']} LCU x {PRICES['alb_lcu_hour']}/h"


def logs(v: dict):
    gb = task_count(v) * PRICES["logs_gb_per_service_task_month"]
    stored = gb * v["log_retention_days"] / 30
    cost = gb * PRICES["logs_ingested_gb"] + stored * PRICES["logs_stored_gb_month"]
    return cost, f"{gb:g} GB/month ingested, {stored:.0f} GB kept ({v['log_retention_days']} days)"


def alarm_counts(v: dict) -> dict[str, int]:
    return {
        "observability/aws_cloudwatch_metric_alarm.no_report": 1,
        "observability/aws_cloudwatch_metric_alarm.run_duration": 1,
        "observability/aws_cloudwatch_metric_alarm.rejection_rate": 1,
        "observability/aws_cloudwatch_metric_alarm.daemon_not_running": 1,
        "arrivals/aws_cloudwatch_metric_alarm.dead_letters": 1,
        "arrivals/aws_cloudwatch_metric_alarm.not_drained": 1,
        "scheduler/aws_cloudwatch_metric_alarm.dead_letters": 1 if v["enable_reprocess_schedule"] else 0,
    }


def alarms(v: dict):
    n = sum(alarm_counts(v).values())
    return n * PRICES["alarm_month"], f"{n} x {PRICES['alarm_month']}"


def container_insights(v: dict):
    mode = v["container_insights"]
    if mode == "disabled":
        return 0.0, "disabled (ECS's free service CPU/memory metrics remain)"
    if mode != "enhanced":
        raise ValueError(f"no price assumption for Container Insights mode {mode!r}")
    per_task = PRICES["container_insights_enhanced_task_month"]
    return task_count(v) * per_task, f"enhanced, {task_count(v)} service tasks x {per_task}"


def fixed(amount: float, arithmetic: str):
    return lambda v: (amount, arithmetic)


LINES = [
    Line("Fargate services", ("ecs/aws_ecs_service.this",), fargate),
    Line("RDS instance", ("rds/aws_db_instance.this",), rds_instance),
    Line("RDS storage", (), rds_storage),
    Line("Interface endpoints", ("network/aws_vpc_endpoint.interface",), interface_endpoints),
    Line("NAT gateways", ("network/aws_nat_gateway.this",), nat_gateway),
    Line("NAT instance", ("network/aws_instance.nat",), nat_ec2),
    Line("Public IPv4 (NAT)", ("network/aws_eip.nat",), public_ipv4),
    Line("ALB", ("alb/aws_lb.this",), alb),
    Line(
        "CloudWatch logs",
        (
            "observability/aws_cloudwatch_log_group.ecs",
            "network/aws_cloudwatch_log_group.flow_logs",
            "network/aws_flow_log.this",
            "rds/aws_cloudwatch_log_group.this",
        ),
        logs,
    ),
    Line(
        "CloudWatch metrics (EMF)",
        (),
        fixed(CUSTOM_METRICS * PRICES["metric_month"], f"{CUSTOM_METRICS} x {PRICES['metric_month']}"),
    ),
    Line("CloudWatch alarms", tuple(alarm_counts({"enable_reprocess_schedule": True})), alarms),
    Line(
        "CloudWatch dashboard",
        ("observability/aws_cloudwatch_dashboard.this",),
        fixed(PRICES["dashboard_month"], "1 (beyond the 3 free)"),
    ),
    Line("Container Insights", ("ecs/aws_ecs_cluster.this",), container_insights),
    Line(
        "Arrivals queues",
        (
            "arrivals/aws_sqs_queue.arrivals",
            "arrivals/aws_sqs_queue.dead_letter",
            "scheduler/aws_sqs_queue.dead_letter",
        ),
        fixed(
            PRICES["sqs_kms_data_key_requests_month"] * PRICES["kms_10k_requests"] / 10_000,
            "requests inside SQS's free million; KMS data keys every 5 minutes",
        ),
    ),
    Line("KMS key", ("kms/aws_kms_key.this",), fixed(PRICES["kms_key_month"], "1 key")),
    Line("Secrets Manager", (), fixed(PRICES["secret_month"], "the RDS-managed master secret")),
    Line(
        "Cloud Map zone",
        ("ecs/aws_service_discovery_private_dns_namespace.this",),
        fixed(PRICES["private_zone_month"], "1 private hosted zone"),
    ),
    Line(
        "ECR storage",
        ("ecr/aws_ecr_repository.this",),
        fixed(PRICES["ecr_image_gb"] * PRICES["ecr_gb_month"], f"~{PRICES['ecr_image_gb']:g} GB"),
    ),
    Line(
        "S3 at idle",
        ("data_bucket/aws_s3_bucket.this", "log_bucket/aws_s3_bucket.this"),
        fixed(PRICES["s3_idle_month"], "storage and requests of a quiet lake, ~1"),
    ),
]

# Resource types that cost nothing while idle (configuration, or billed per use only).
FREE_AT_IDLE = {
    "aws_cloudwatch_event_rule",
    "aws_cloudwatch_event_target",
    "aws_db_parameter_group",
    "aws_db_subnet_group",
    "aws_default_security_group",
    "aws_ecr_lifecycle_policy",
    "aws_ecs_cluster_capacity_providers",
    "aws_ecs_task_definition",
    "aws_eip_association",
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_internet_gateway",
    "aws_kms_alias",
    "aws_lb_listener",
    "aws_lb_listener_rule",
    "aws_lb_target_group",
    "aws_route",
    "aws_route53_record",
    "aws_route_table",
    "aws_route_table_association",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_notification",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_scheduler_schedule",
    "aws_security_group",
    "aws_service_discovery_service",
    "aws_sns_topic",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_sqs_queue_policy",
    "aws_sqs_queue_redrive_allow_policy",
    "aws_subnet",
    "aws_vpc",
    "aws_vpc_security_group_egress_rule",
    "aws_vpc_security_group_ingress_rule",
}
# Resources of a priced type that are free themselves.
FREE_RESOURCES = {"network/aws_vpc_endpoint.s3": "gateway endpoint"}


def unpriced(resources: dict[str, dict]) -> list[str]:
    """Resources neither priced by a line nor free at idle."""
    covered = {address for line in LINES for address in line.covers} | set(FREE_RESOURCES)
    return sorted(a for a in resources if a not in covered and a.split("/")[1].split(".")[0] not in FREE_AT_IDLE)


def costs(environment: str) -> list[tuple[str, float, str]]:
    values = environment_values(environment)
    return [(line.item, *line.cost(values)) for line in LINES]


def main() -> int:
    missing = unpriced(module_resources())
    if missing:
        print(f"not in the cost model: {', '.join(missing)}", file=sys.stderr)
        return 1
    totals = {}
    for environment in ENVIRONMENTS:
        lines = [(item, round(amount, 2), arithmetic) for item, amount, arithmetic in costs(environment)]
        for item, amount, arithmetic in lines:
            print(f"{environment:<5} {item:<26} {amount:>8.2f}  {arithmetic}")
        totals[environment] = round(sum(amount for _, amount, _ in lines), 2)
        print(f"{environment:<5} {'Total':<26} {totals[environment]:>8.2f}")
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
