"""scripts/idle_cost.py (make cost): the idle cost of each environment, computed from terraform/.

The model must price every resource that costs money at idle, read the counts Terraform would
create (the count and for_each expressions it assumes are checked here), and docs/deploy.md must
show its current output.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("idle_cost", REPO / "scripts" / "idle_cost.py")
idle_cost = importlib.util.module_from_spec(SPEC)
sys.modules["idle_cost"] = idle_cost  # dataclasses look their module up there
SPEC.loader.exec_module(idle_cost)

DEV_BUDGET = 60.0
TOTALS = {"dev": 58.34, "prod": 732.69}


def test_every_resource_is_priced_or_free_at_idle():
    resources = idle_cost.module_resources()
    assert idle_cost.unpriced(resources) == []
    covered = [a for line in idle_cost.LINES for a in line.covers]
    assert len(covered) == len(set(covered)), "a resource priced by two lines"
    assert not set(covered) - set(resources), "a line prices a resource that no longer exists"
    assert set(idle_cost.FREE_RESOURCES) <= set(resources)
    assert not {a.split("/")[1].split(".")[0] for a in covered} & idle_cost.FREE_AT_IDLE


@pytest.mark.parametrize(
    "address",
    [
        "rds/aws_db_instance.replica",
        "network/aws_nat_gateway.extra",
        "ecs/aws_ecs_service.worker",
        "x/aws_msk_cluster.y",
    ],
)
def test_a_new_resource_without_a_line_fails(address):
    resources = {**idle_cost.module_resources(), address: {}}
    assert idle_cost.unpriced(resources) == [address]


def test_the_totals_and_the_json_line(capsys):
    assert idle_cost.main() == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1]) == TOTALS
    assert TOTALS["dev"] <= DEV_BUDGET
    for environment in idle_cost.ENVIRONMENTS:
        lines = [line for line in out[:-1] if line.startswith(f"{environment} ")]
        assert len(lines) == len(idle_cost.LINES) + 1
        assert lines[-1].split() == [environment, "Total", f"{TOTALS[environment]:.2f}"]


def amounts(environment: str) -> dict[str, float]:
    return {item: round(amount, 2) for item, amount, _ in idle_cost.costs(environment)}


def test_dev_is_the_lean_profile():
    dev = amounts("dev")
    assert dev["Fargate services"] == 9.57  # 0.75 vCPU, 3 GB on Spot
    assert dev["RDS instance"] == 11.68  # db.t4g.micro, no Performance Insights
    assert dev["Interface endpoints"] == 0 and dev["NAT gateways"] == 0
    assert dev["NAT instance"] == 3.71 and dev["Public IPv4 (NAT)"] == 3.65
    assert dev["Container Insights"] == 0
    assert dev["ALB"] == 17.01  # the UI keeps its OIDC sign-in


def test_prod_keeps_its_high_availability():
    prod = amounts("prod")
    assert prod["Interface endpoints"] == 8 * 3 * 7.30
    assert prod["NAT gateways"] == 98.55 and prod["Public IPv4 (NAT)"] == 10.95  # one per zone
    assert prod["NAT instance"] == 0
    assert prod["RDS instance"] == 245.28  # Multi-AZ
    assert prod["Container Insights"] == 25.00


def test_the_counts_are_terraforms():
    """The expressions the model evaluates by hand are the ones in the modules."""
    resources = idle_cost.module_resources()
    network = {k.split("/")[1]: v for k, v in resources.items() if k.startswith("network/")}
    assert network["aws_nat_gateway.this"]["count"] == "${local.nat_count}"
    assert network["aws_instance.nat"]["count"] == "${local.nat_instance ? 1 : 0}"
    assert network["aws_eip.nat"]["count"] == "${local.nat_instance ? 1 : local.nat_count}"
    assert network["aws_vpc_endpoint.interface"]["for_each"] == "${toset(local.endpoint_services)}"
    assert network["aws_vpc_endpoint.interface"]["subnet_ids"] == "${aws_subnet.private[*].id}"  # one per zone
    assert network["aws_instance.nat"]["instance_type"] == "${var.nat_instance_type}"
    assert network["aws_instance.nat"]["root_block_device"][0]["volume_size"] == "${var.nat_instance_volume_gb}"
    assert network["aws_vpc_endpoint.s3"]["vpc_endpoint_type"] == "Gateway"
    locals_ = {}
    for entry in idle_cost.parse(idle_cost.TERRAFORM / "modules" / "network" / "main.tf")["locals"]:
        locals_.update(entry)
    assert locals_["nat_instance"] == "${var.nat_instance_type != null}"
    assert locals_["nat_count"] == "${local.nat_instance ? 0 : (var.single_nat_gateway ? 1 : local.az_count)}"
    assert locals_["endpoint_services"] == "${local.nat_instance ? [] : var.interface_endpoint_services}"
    assert locals_["az_count"] == "${length(var.availability_zones)}"
    # Alarms: one each, the reprocess schedule's only with the schedule.
    for address in idle_cost.alarm_counts({"enable_reprocess_schedule": False}):
        body = resources[address]
        expected = "${local.instances}" if address.startswith("scheduler/") else None
        assert body.get("count") == expected and "for_each" not in body, address
    # Services: the sizes and counts the model multiplies.
    service = resources["ecs/aws_ecs_service.this"]
    assert service["for_each"] == "${local.services}" and service["desired_count"] == "${each.value.desired_count}"
    assert service["capacity_provider_strategy"][0]["capacity_provider"] == "${var.service_capacity_provider}"
    ecs_locals = {}
    for entry in idle_cost.parse(idle_cost.TERRAFORM / "modules" / "ecs" / "main.tf")["locals"]:
        ecs_locals.update(entry)
    counts = {key: d["desired_count"] for key, d in ecs_locals["services"].items()}
    assert counts == {
        "webserver": "${var.webserver_desired_count}",
        "daemon": 1,
        "code_server": "${var.code_server_desired_count}",
    }
    sizes = {key: (t["cpu"], t["memory"]) for key, t in ecs_locals["tasks"].items()}
    assert sizes["webserver"] == ("${var.webserver_cpu}", "${var.webserver_memory}")
    assert sizes["daemon"] == ("${var.daemon_cpu}", "${var.daemon_memory}")
    assert sizes["code-server"] == ("${var.code_server_cpu}", "${var.code_server_memory}")
    db = resources["rds/aws_db_instance.this"]
    assert db["multi_az"] == "${var.multi_az}" and db["allocated_storage"] == "${var.allocated_storage_gb}"
    assert db["performance_insights_enabled"] == "${var.performance_insights}"
    assert resources["ecs/aws_ecs_cluster.this"]["setting"][0]["value"] == "${var.container_insights}"
    assert "count" not in resources["alb/aws_lb.this"]
    # Every environment passes the values the model reads to those variables.
    for environment in idle_cost.ENVIRONMENTS:
        values = idle_cost.environment_values(environment)
        for name in ("nat_instance_type", "db_instance_class", "db_multi_az", "db_performance_insights"):
            assert name in values, (environment, name)
        assert values["db_instance_class"] in idle_cost.PRICES["rds_hour"]
        assert values["nat_instance_type"] is None or values["nat_instance_type"] in idle_cost.PRICES["ec2_hour"]


def test_deploy_docs_show_the_current_output(capsys):
    """docs/deploy.md's cost section is the script's output, not a hand-written table."""
    idle_cost.main()
    out = capsys.readouterr().out
    text = (REPO / "docs" / "deploy.md").read_text()
    block = re.search(r"```text\n(\$ make cost\n.*?)```", text, flags=re.DOTALL)
    assert block, "docs/deploy.md has no make cost block"
    assert block.group(1) == "$ make cost\n" + out
