"""Static verification of terraform/ without a terraform binary or an AWS account.

Every .tf file is parsed with python-hcl2. The tests check that the configuration would get past
`terraform validate` on the points that matter (every var., local., module. and resource reference
resolves; every module call passes declared variables and all required ones), that the security
properties the stack promises hold in the code (IAM, RDS, networking), that the environment roots
are thin (a backend, a provider and one call of modules/pipeline with their values), and that the
names shared with deploy/dagster.yaml, the
Dockerfile and the pipeline are the binding ones. checkov and the `terraform fmt`-style checks are in
test_checkov.py.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
ENVIRONMENTS = ("dev", "prod")

# --- Binding names (shared with deploy/dagster.yaml, the Dockerfile and the pipeline) ----------

CONTAINER_NAMES = {"webserver", "daemon", "code-server", "run", "db-setup"}
# The task definitions of Dagster itself (services, run worker, RUN_DATE entry); db-setup is the
# administrator's one-off task.
DAGSTER_TASKS = {"webserver", "daemon", "code-server", "run", "reprocess"}
PLAIN_ENVIRONMENT = {
    "PIPELINE_STORAGE_URL",
    "PIPELINE_LOG_FORMAT",
    "PIPELINE_ENVIRONMENT",
    "PIPELINE_ALERT_TOPIC_ARN",
    "PIPELINE_STEP_EXECUTOR",
    "PIPELINE_SHARD_BYTES",
    "PIPELINE_ARRIVALS_QUEUE_URL",
    "PIPELINE_ECS_SIZE_TIERS",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_COMPUTE_LOG_BUCKET",
    "DAGSTER_RUN_TASK_DEFINITION",
    "DAGSTER_ECS_CLUSTER",
    "DAGSTER_RUN_SUBNETS",
    "DAGSTER_RUN_SECURITY_GROUP",
    "AWS_REGION",
    "PGSSLMODE",
}
# No Dagster task gets a secret: they log in to PostgreSQL with IAM authentication tokens.
SECRETS: set[str] = set()
DB_SETUP_ENVIRONMENT = {
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_ADMIN_USERNAME",
    "AWS_REGION",
    "PIPELINE_LOG_FORMAT",
    "PGSSLMODE",
}
DB_SETUP_SECRETS = {"DAGSTER_PG_ADMIN_PASSWORD"}
DB_APP_USERNAME = "dagster_app"
DAGSTER_HOME = "/opt/dagster/dagster_home"
WORKSPACE = f"{DAGSTER_HOME}/workspace.yaml"
COMMANDS = {
    "webserver": ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", WORKSPACE, "--log-format", "json"],
    "daemon": ["dagster-daemon", "run", "-w", WORKSPACE, "--log-format", "json"],
    "code-server": [
        "dagster",
        "code-server",
        "start",
        "-h",
        "0.0.0.0",
        "-p",
        "4000",
        "-m",
        "pipeline_project.definitions",
        "--location-name",
        "pipeline_project",
        "--log-format",
        "json",
    ],  # fmt: skip
    "run": None,  # the EcsRunLauncher supplies the run worker's command
    "reprocess": ["pipeline-project", "run"],
    "db-setup": ["pipeline-project", "db-setup"],
}
METRIC_NAMESPACE = "PipelineProject"
METRIC_NAMES = {
    "RecordsRead",
    "RecordsValid",
    "RecordsRejected",
    "RecordsDuplicates",
    "RejectionRate",
    "RunDurationSeconds",
    "ReportsWritten",
}
# Account-specific or per-deploy values the environments take at plan time, not from their roots.
PLAN_TIME_VARIABLES = {
    "aws_account_id",
    "github_repository",
    "certificate_arn",
    "image_tag",
    "alb_oidc",
    "alb_oidc_client_secret",
}
MODULE_META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}
REQUIRED_MODULES = {
    "kms", "network", "log_bucket", "data_bucket", "ecr", "rds", "iam", "alb", "observability", "ecs", "scheduler",
    "arrivals",
}  # fmt: skip

OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True)


# --- Parsing -----------------------------------------------------------------------------------


def strip_markers(value):
    """Drop python-hcl2's __is_block__ markers."""
    if isinstance(value, dict):
        return {k: strip_markers(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [strip_markers(v) for v in value]
    return value


@functools.cache
def parse(path: Path) -> dict:
    return strip_markers(hcl2.loads(path.read_text(), serialization_options=OPTIONS))


def is_expression(value) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def literal(value):
    """A literal value as Terraform sees it (numbers and booleans may come back as strings)."""
    if isinstance(value, str) and not is_expression(value):
        return {"true": True, "false": False}.get(value, value)
    return value


def code_of(text: str) -> str:
    """The code of a serialized value: string literals removed, interpolations kept."""
    if is_expression(text):
        source, mode = text[2:-1], "code"
    else:
        source, mode = text, "string"
    out: list[str] = []
    stack = [mode]
    i = 0
    while i < len(source):
        c = source[i]
        if stack[-1] == "string":
            if c == "\\":
                i += 2
                continue
            if source.startswith("${", i) or source.startswith("%{", i):
                stack.append("interpolation")
                out.append(" ")
                i += 2
                continue
            if c == '"' and len(stack) > 1:
                stack.pop()
            i += 1
            continue
        if c == '"':
            stack.append("string")
        elif c == "{":
            stack.append("brace")
            out.append(c)
        elif c == "}":
            if stack[-1] in ("brace", "interpolation"):
                stack.pop()
            out.append(" " if stack[-1] == "string" else c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def values(node):
    """Every string value of a parsed structure (keys excluded)."""
    if isinstance(node, dict):
        for v in node.values():
            yield from values(v)
    elif isinstance(node, list):
        for v in node:
            yield from values(v)
    elif isinstance(node, str):
        yield node


def blocks(parsed: dict, kind: str):
    """(type, name, body) of resource/data blocks, or (name, body) pairs flattened for others."""
    for entry in parsed.get(kind, []):
        for key, body in entry.items():
            if kind in ("resource", "data"):
                for name, inner in body.items():
                    yield key, name, inner
            else:
                yield key, body


@dataclass
class Module:
    path: Path
    files: dict[str, dict] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.path.relative_to(TERRAFORM))

    def all(self, kind):
        for parsed in self.files.values():
            yield from blocks(parsed, kind)

    @functools.cached_property
    def variables(self) -> dict[str, dict]:
        return dict(self.all("variable"))

    @functools.cached_property
    def outputs(self) -> dict[str, dict]:
        return dict(self.all("output"))

    @functools.cached_property
    def locals(self) -> dict:
        merged: dict = {}
        for parsed in self.files.values():
            for block in parsed.get("locals", []):
                for key, value in block.items():
                    assert key not in merged, f"{self.name}: local.{key} defined twice"
                    merged[key] = value
        return merged

    @functools.cached_property
    def resources(self) -> dict[tuple[str, str], dict]:
        return {(t, n): body for t, n, body in self.all("resource")}

    @functools.cached_property
    def data(self) -> dict[tuple[str, str], dict]:
        return {(t, n): body for t, n, body in self.all("data")}

    @functools.cached_property
    def calls(self) -> dict[str, dict]:
        return dict(self.all("module"))

    def code(self) -> str:
        """The code of every block but `moved` (whose from names an address that no longer exists)."""
        return "\n".join(
            code_of(text)
            for parsed in self.files.values()
            for text in values({k: v for k, v in parsed.items() if k != "moved"})
        )


def load_module(path: Path) -> Module:
    module = Module(path)
    for file in sorted(path.glob("*.tf")):
        module.files[file.name] = parse(file)
    return module


def module_dirs() -> list[Path]:
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts})


@functools.cache
def all_modules() -> dict[str, Module]:
    return {str(p.relative_to(TERRAFORM)): load_module(p) for p in module_dirs()}


def module(name: str) -> Module:
    return all_modules()[name]


def stack() -> Module:
    """modules/pipeline: the composition every environment root calls."""
    return module("modules/pipeline")


def root_call(environment: str) -> dict:
    """The arguments of the environment root's one module call."""
    calls = module(f"environments/{environment}").calls
    assert set(calls) == {"pipeline"}, calls
    return calls["pipeline"]


def tfvars(environment: str) -> dict:
    """The environment's values: what its root passes to modules/pipeline, plan-time values and the
    source excluded."""
    call = root_call(environment)
    return {k: v for k, v in call.items() if k != "source" and k not in PLAN_TIME_VARIABLES}


def default_of(variable: dict):
    return literal(variable["default"]) if "default" in variable else None


# --- Layout -------------------------------------------------------------------------------------


def test_layout():
    assert {p.name for p in MODULES.iterdir() if p.is_dir()} >= REQUIRED_MODULES | {"pipeline"}
    for name in REQUIRED_MODULES | {"pipeline"}:
        files = {p.name for p in (MODULES / name).glob("*.tf")}
        assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= files, f"modules/{name}: {files}"
        # Each module's short README lists its inputs and outputs: all of them, by name.
        readme = (MODULES / name / "README.md").read_text()
        interface = [*module(f"modules/{name}").variables, *module(f"modules/{name}").outputs]
        assert not [n for n in interface if f"`{n}`" not in readme], f"modules/{name}/README.md"
    for environment in ENVIRONMENTS:
        files = {p.name for p in (TERRAFORM / "environments" / environment).iterdir()}
        assert files == {"main.tf", "variables.tf", "outputs.tf"}, files
    assert (TERRAFORM / "bootstrap" / "main.tf").exists()
    assert (TERRAFORM / "README.md").exists()


def test_every_file_parses():
    for path in sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars")):
        parse(path)


@pytest.mark.parametrize("name", sorted(str(p.relative_to(TERRAFORM)) for p in module_dirs()))
def test_aws_provider_is_pinned(name):
    settings = [
        t for parsed in module(name).files.values() for t in parsed.get("terraform", []) if "required_providers" in t
    ]
    assert len(settings) == 1, f"{name}: one terraform block declares the providers"
    (settings,) = settings
    assert settings["required_version"].startswith(">= 1.1"), "use_lockfile needs Terraform >= 1.10"
    aws = settings["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> 6\.\d+", aws["version"]), aws["version"]


# --- References resolve ------------------------------------------------------------------------

REFERENCE = re.compile(r"(?<![\w.])(var|local|module|data)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")
RESOURCE_REFERENCE = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


@pytest.mark.parametrize("name", sorted(str(p.relative_to(TERRAFORM)) for p in module_dirs()))
def test_references_resolve(name):
    mod = module(name)
    code = mod.code()
    problems = []
    for kind, first, second in REFERENCE.findall(code):
        if kind == "var" and first not in mod.variables:
            problems.append(f"var.{first} is not declared")
        elif kind == "local" and first not in mod.locals:
            problems.append(f"local.{first} is not defined")
        elif kind == "module":
            if first not in mod.calls:
                problems.append(f"module.{first} is not called here")
                continue
            target = (mod.path / mod.calls[first]["source"]).resolve()
            outputs = load_module(target).outputs
            if second not in outputs:
                problems.append(f"module.{first}.{second}: {target.name} declares no such output")
        elif kind == "data" and (first, second) not in mod.data:
            problems.append(f"data.{first}.{second} is not declared")
    for rtype, rname in RESOURCE_REFERENCE.findall(code):
        if (rtype, rname) not in mod.resources:
            problems.append(f"{rtype}.{rname} is not declared")
    assert not problems, f"{name}: " + "; ".join(sorted(set(problems)))


@pytest.mark.parametrize("name", sorted(str(p.relative_to(TERRAFORM)) for p in module_dirs()))
def test_declarations_are_used(name):
    """Declared but unused variables and locals are dead configuration (tflint's rule)."""
    mod = module(name)
    code = mod.code()
    used = {(k, a) for k, a, _ in REFERENCE.findall(code)}
    assert not [v for v in mod.variables if ("var", v) not in used], f"{name}: unused variables"
    assert not [v for v in mod.locals if ("local", v) not in used], f"{name}: unused locals"


@pytest.mark.parametrize("name", sorted(str(p.relative_to(TERRAFORM)) for p in module_dirs()))
def test_module_calls_match_the_modules(name):
    mod = module(name)
    for call, arguments in mod.calls.items():
        target = (mod.path / arguments["source"]).resolve()
        assert target.is_relative_to(MODULES), f"{name}: module.{call} is not a local module"
        declared = load_module(target).variables
        passed = set(arguments) - MODULE_META_ARGUMENTS
        unknown = passed - set(declared)
        required = {v for v, body in declared.items() if "default" not in body}
        assert not unknown, f"{name}: module.{call} passes undeclared variables {sorted(unknown)}"
        assert required <= passed, f"{name}: module.{call} misses required {sorted(required - passed)}"


@pytest.mark.parametrize("name", sorted(str(p.relative_to(TERRAFORM)) for p in module_dirs()))
def test_variables_and_outputs_are_typed_and_described(name):
    mod = module(name)
    for variable, body in mod.variables.items():
        assert body.get("type"), f"{name}: variable {variable} has no type"
        assert str(body.get("description", "")).strip(), f"{name}: variable {variable} has no description"
    for output, body in mod.outputs.items():
        assert str(body.get("description", "")).strip(), f"{name}: output {output} has no description"


# --- Environments: same composition, different values ------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_roots_are_thin(environment):
    """A root is its backend, its provider, one call of modules/pipeline with its values, the
    plan-time inputs it passes on and the outputs it passes through; everything else is the stack's."""
    root = module(f"environments/{environment}")
    assert set(stack().calls) == REQUIRED_MODULES
    for call, arguments in stack().calls.items():
        assert arguments["source"] == f"../{call}"
    assert root_call(environment)["source"] == "../../modules/pipeline"
    assert not root.resources and not root.data and not root.locals
    blocks_ = {kind for parsed in root.files.values() for kind in parsed}
    assert blocks_ == {"terraform", "provider", "module", "variable", "output"}, blocks_
    # Inputs: the plan-time values only, each passed on under its name.
    assert set(root.variables) == PLAN_TIME_VARIABLES
    for name in PLAN_TIME_VARIABLES:
        assert root_call(environment)[name] == f"${{var.{name}}}", name
        assert root.variables[name]["type"] == stack().variables[name]["type"], name
    # Outputs: every output of the stack, under its name, and nothing else.
    assert {name: body["value"] for name, body in root.outputs.items()} == {
        name: f"${{module.pipeline.{name}}}" for name in stack().outputs
    }
    (provider,) = [p["aws"] for parsed in root.files.values() for p in parsed.get("provider", [])]
    assert provider["allowed_account_ids"] == ["${var.aws_account_id}"]
    assert provider["default_tags"][0]["tags"]["Environment"] == environment
    # The stack holds the composition only: no resources of its own.
    assert not stack().resources and not stack().data


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_tfvars_set_every_value_but_the_plan_time_ones(environment):
    env = stack()
    values_ = tfvars(environment)
    assert set(values_) <= set(env.variables), sorted(set(values_) - set(env.variables))
    required = {v for v, body in env.variables.items() if "default" not in body}
    assert required - set(values_) == PLAN_TIME_VARIABLES
    assert values_["environment"] == environment
    assert set(tfvars("dev")) == set(tfvars("prod"))


def test_prod_values_are_production_grade():
    prod, dev = tfvars("prod"), tfvars("dev")
    assert literal(prod["deletion_protection"]) is True
    assert literal(prod["db_multi_az"]) is True
    assert int(prod["db_backup_retention_days"]) >= 14
    assert int(prod["log_retention_days"]) >= 365
    assert len(prod["availability_zones"]) >= 2 and len(dev["availability_zones"]) >= 2
    assert literal(prod["service_capacity_provider"]) == "FARGATE"
    assert literal(prod["enable_reprocess_schedule"]) is False and literal(dev["enable_reprocess_schedule"]) is False
    # NAT (the ALB's way to the identity provider) in every zone in prod; dev's lean profile has one
    # NAT instance instead of NAT gateways and interface endpoints.
    assert literal(prod["single_nat_gateway"]) is False and prod["nat_instance_type"] is None
    assert dev["nat_instance_type"] == "t4g.nano"
    assert literal(prod["container_insights"]) == "enhanced" and literal(dev["container_insights"]) == "disabled"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_backend_is_s3_with_native_locking(environment):
    root = module(f"environments/{environment}")
    backends = [b for parsed in root.files.values() for t in parsed.get("terraform", []) for b in t.get("backend", [])]
    assert len(backends) == 1 and list(backends[0]) == ["s3"]
    s3 = backends[0]["s3"]
    assert literal(s3["use_lockfile"]) is True and literal(s3["encrypt"]) is True
    assert "dynamodb_table" not in s3
    assert s3["key"] == f"pipeline/{environment}/terraform.tfstate"
    # The deploy role may touch exactly this state object.
    env = stack()
    assert env.locals["state_key"] == "pipeline/${var.environment}/terraform.tfstate"
    assert env.locals["state_bucket"] == "pipeline-tfstate-${var.aws_account_id}"
    assert env.locals["name"] == "pipeline-${var.environment}"


def test_bootstrap_state_bucket():
    boot = module("bootstrap")
    assert boot.variables["state_bucket_prefix"]["default"] == "pipeline-tfstate"
    kinds = {t for t, _ in boot.resources}
    assert {
        "aws_s3_bucket",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_ownership_controls",
        "aws_iam_openid_connect_provider",
    } <= kinds
    assert_bucket_basics(boot, "state")


# --- Storage ------------------------------------------------------------------------------------


def assert_bucket_basics(mod: Module, name: str):
    versioning = mod.resources[("aws_s3_bucket_versioning", name)]
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    block = mod.resources[("aws_s3_bucket_public_access_block", name)]
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert literal(block[flag]) is True
    ownership = mod.resources[("aws_s3_bucket_ownership_controls", name)]
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    sse = mod.resources[("aws_s3_bucket_server_side_encryption_configuration", name)]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]
    policy_doc = mod.resources[("aws_s3_bucket_policy", name)]["policy"]
    doc = mod.data[("aws_iam_policy_document", policy_doc.split(".")[2])]
    tls = [s for s in statements(doc) if s.get("effect") == "Deny"]
    assert any(
        c["variable"] == "aws:SecureTransport" and c["values"] == ["false"] for s in tls for c in s.get("condition", [])
    ), f"{mod.name}: bucket {name} is not TLS-only"


def test_data_bucket():
    mod = module("modules/data_bucket")
    assert mod.locals["bucket_name"] == "${var.name}-data-${data.aws_caller_identity.current.account_id}"
    assert_bucket_basics(mod, "this")
    sse = mod.resources[("aws_s3_bucket_server_side_encryption_configuration", "this")]["rule"][0]
    assert "AES256" in sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
    assert mod.variables["kms_key_arn"]["default"] is None, "SSE-S3 is the default, KMS optional"
    assert literal(mod.resources[("aws_s3_bucket_notification", "this")]["eventbridge"]) is True
    rules = {r["id"]: r for r in mod.resources[("aws_s3_bucket_lifecycle_configuration", "this")]["rule"]}
    raw = rules["raw-data-tiering"]
    assert raw["filter"][0]["prefix"] == "raw-data/"
    classes = [t["storage_class"] for t in raw["transition"]]
    assert classes[0] == "STANDARD_IA" and classes[1] == "${var.raw_data_archive_storage_class}"
    everything = rules["noncurrent-versions-and-incomplete-uploads"]
    assert everything["noncurrent_version_expiration"] and everything["abort_incomplete_multipart_upload"]
    assert mod.resources[("aws_s3_bucket_logging", "this")]["target_bucket"] == "${var.access_log_bucket}"


def test_data_bucket_expires_shard_work():
    """A crashed sharded run's work/ files, the versions a delete leaves and unfinished uploads go
    within days; the bucket-wide rule alone would keep the versions for months."""
    mod = module("modules/data_bucket")
    rules = {r["id"]: r for r in mod.resources[("aws_s3_bucket_lifecycle_configuration", "this")]["rule"]}
    assert rules["work-expiry"] == {
        "id": "work-expiry",
        "status": "Enabled",
        "filter": [{"prefix": "work/"}],
        "expiration": [{"days": "${var.work_expiration_days}"}],
        "noncurrent_version_expiration": [{"noncurrent_days": "${var.work_expiration_days}"}],
        "abort_incomplete_multipart_upload": [{"days_after_initiation": "${var.work_expiration_days}"}],
    }
    variable = mod.variables["work_expiration_days"]
    assert variable["type"] == "number" and default_of(variable) == 2
    assert variable["validation"][0]["condition"] == "${var.work_expiration_days >= 1}"
    for environment in ENVIRONMENTS:
        env = stack()
        assert env.calls["data_bucket"]["work_expiration_days"] == "${var.work_expiration_days}"
        assert default_of(env.variables["work_expiration_days"]) == 2
        assert "work_expiration_days" not in tfvars(environment)


def test_ecr_repository():
    repo = module("modules/ecr").resources[("aws_ecr_repository", "this")]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert literal(repo["image_scanning_configuration"][0]["scan_on_push"]) is True
    assert repo["encryption_configuration"][0]["encryption_type"] == "KMS"
    policy = module("modules/ecr").resources[("aws_ecr_lifecycle_policy", "this")]["policy"]
    assert "imageCountMoreThan" in policy and "var.keep_last_images" in policy


def test_rds_is_private_encrypted_and_password_managed():
    mod = module("modules/rds")
    db = mod.resources[("aws_db_instance", "this")]
    assert literal(db["storage_encrypted"]) is True
    assert literal(db["publicly_accessible"]) is False
    assert literal(db["manage_master_user_password"]) is True
    assert "password" not in db, "the master password is managed by RDS, never set by Terraform"
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert literal(db["skip_final_snapshot"]) is False
    # Performance Insights: on by default and in prod; off only in dev, whose db.t4g.micro cannot have it.
    assert db["performance_insights_enabled"] == "${var.performance_insights}"
    assert db["performance_insights_kms_key_id"] == "${var.performance_insights ? var.kms_key_arn : null}"
    assert default_of(mod.variables["performance_insights"]) is True
    assert literal(tfvars("prod")["db_performance_insights"]) is True
    assert (
        literal(tfvars("dev")["db_performance_insights"]) is False
        and tfvars("dev")["db_instance_class"] == "db.t4g.micro"
    )
    assert db["backup_retention_period"] == "${var.backup_retention_days}"
    # Dagster logs in with IAM tokens: authentication is not optional.
    assert literal(db["iam_database_authentication_enabled"]) is True
    assert "iam_database_authentication_enabled" not in mod.variables
    parameters = {
        p["name"]: literal(p["value"]) for p in mod.resources[("aws_db_parameter_group", "this")]["parameter"]
    }
    assert parameters["rds.force_ssl"] == "1"
    assert mod.variables["database_name"]["default"] == "dagster"
    assert mod.variables["master_username"]["default"] == "dagster"
    outputs = mod.outputs["master_user_secret_arn"]["value"]
    assert outputs == "${aws_db_instance.this.master_user_secret[0].secret_arn}"
    assert mod.outputs["resource_id"]["value"] == "${aws_db_instance.this.resource_id}"


# --- Network ------------------------------------------------------------------------------------


def test_tasks_never_get_public_ips():
    found = set()
    for mod in all_modules().values():
        for (rtype, rname), body in mod.resources.items():
            for text_key, value in walk_items(body):
                if text_key == "assign_public_ip":
                    found.add((mod.name, rtype, rname))
                    assert literal(value) is False, f"{mod.name}: {rtype}.{rname} assigns a public IP"
                if text_key == "map_public_ip_on_launch":
                    assert literal(value) is False, f"{mod.name}: {rtype}.{rname} maps public IPs"
            if rtype == "aws_ecs_service" or rtype == "aws_scheduler_schedule":
                networks = [v for k, v in walk_items(body) if k == "network_configuration"]
                assert networks, f"{mod.name}: {rtype}.{rname} has no explicit network configuration"
                for network in networks:
                    assert literal(network[0].get("assign_public_ip")) is False
                    assert "private_subnet_ids" in network[0]["subnets"] or "subnet_ids" in network[0]["subnets"]
    # The three services (one definition) and the reprocess schedule's task.
    assert found == {
        ("modules/ecs", "aws_ecs_service", "this"),
        ("modules/scheduler", "aws_scheduler_schedule", "reprocess"),
    }


def walk_items(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from walk_items(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_items(v)


def test_security_group_flows():
    net = module("modules/network")
    rules = {
        (t, n): body
        for (t, n), body in net.resources.items()
        if t in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
    }
    for body in rules.values():
        assert body.get("description"), "every rule says why it exists"
        assert body["ip_protocol"] == "tcp", "no all-protocol rules"
        assert body["from_port"] == body["to_port"], "single ports only"
    # The internet rules of the VPC, all HTTPS egress: the ALB's to the identity provider and, in the
    # lean profile only (dev), the tasks' to AWS APIs and the NAT instance's forwarding.
    internet = {n: body for (t, n), body in rules.items() if body.get("cidr_ipv4") == "0.0.0.0/0"}
    assert set(internet) == {"alb_to_identity_provider", "task_to_aws_apis_via_nat", "nat_to_internet"}
    assert {(t, n) for (t, n) in rules if n in internet} == {
        ("aws_vpc_security_group_egress_rule", n) for n in internet
    }
    assert all(body["from_port"] == 443 for body in internet.values())
    assert internet["task_to_aws_apis_via_nat"]["for_each"] == "${local.nat_instance ? local.task_security_groups : {}}"
    assert internet["nat_to_internet"]["count"] == "${local.nat_instance ? 1 : 0}"
    assert internet["nat_to_internet"]["security_group_id"] == "${aws_security_group.nat.id}"
    nat_from = rules[("aws_vpc_security_group_ingress_rule", "nat_from")]
    assert nat_from["for_each"] == '${local.nat_instance ? merge(local.task_security_groups, {alb = ""}) : {}}'
    assert nat_from["from_port"] == 443 and "cidr_ipv4" not in nat_from
    to_idp = rules[("aws_vpc_security_group_egress_rule", "alb_to_identity_provider")]
    assert to_idp["security_group_id"] == "${aws_security_group.alb.id}" and to_idp["from_port"] == 443
    assert "count" not in to_idp and "for_each" not in to_idp, "OIDC is always on"
    ingress = {n: b for (t, n), b in rules.items() if t == "aws_vpc_security_group_ingress_rule"}
    assert ingress["webserver_from_alb"]["from_port"] == "${var.webserver_port}"
    assert ingress["webserver_from_alb"]["referenced_security_group_id"] == "${aws_security_group.alb.id}"
    assert ingress["code_server_from"]["from_port"] == "${var.code_server_port}"
    assert ingress["rds_from_task"]["from_port"] == 5432
    assert ingress["rds_from_task"]["referenced_security_group_id"] == "${aws_security_group.task[each.key].id}"
    assert ingress["endpoints_from_task"]["from_port"] == 443
    assert net.variables["webserver_port"]["default"] == 3000
    assert net.variables["code_server_port"]["default"] == 4000
    assert "enable_nat_gateway" not in net.variables and "alb_identity_provider_egress" not in net.variables
    services = set(net.variables["interface_endpoint_services"]["default"])
    assert services == {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "ecs", "sts", "sns", "sqs"}, (
        "no ec2: only use_current_ecs_task_config (false) would look up network interfaces"
    )
    assert net.resources[("aws_vpc_endpoint", "s3")]["vpc_endpoint_type"] == "Gateway"
    flow = net.resources[("aws_flow_log", "this")]
    assert flow["traffic_type"] == "ALL"
    assert net.resources[("aws_cloudwatch_log_group", "flow_logs")]["kms_key_id"] == "${var.kms_key_arn}"


def test_tasks_reach_sqs_without_nat():
    """The raw_data sensor (code server) drains the arrivals queue: without NAT, SQS is one of the
    interface endpoints the network insists on."""
    net = module("modules/network")
    variable = net.variables["interface_endpoint_services"]
    assert "sqs" in variable["default"]
    (validation,) = variable["validation"]
    required = re.search(r"setsubtract\(\[(.*?)\], var\.interface_endpoint_services\)", validation["condition"])
    assert required, validation["condition"]
    assert "sqs" in json.loads(f"[{required.group(1)}]")
    assert set(json.loads(f"[{required.group(1)}]")) <= set(variable["default"])
    assert "sqs" in validation["error_message"]
    endpoint = net.resources[("aws_vpc_endpoint", "interface")]
    assert endpoint["for_each"] == "${toset(local.endpoint_services)}"
    # All of them unless the lean profile's NAT instance carries the tasks' AWS calls.
    assert net.locals["endpoint_services"] == "${local.nat_instance ? [] : var.interface_endpoint_services}"
    assert literal(endpoint["private_dns_enabled"]) is True, "the SDK's default sqs.<region> name must resolve to it"
    call = stack().calls["network"]
    # The environments take the module's list; one that passes its own must keep sqs.
    assert "sqs" in str(call.get("interface_endpoint_services", "sqs"))


def test_alb_is_internal_https_with_required_oidc():
    mod = module("modules/alb")
    lb = mod.resources[("aws_lb", "this")]
    assert literal(lb["internal"]) is True
    assert literal(lb["drop_invalid_header_fields"]) is True
    assert literal(lb["access_logs"][0]["enabled"]) is True
    https = mod.resources[("aws_lb_listener", "https")]
    assert https["protocol"] == "HTTPS" and https["certificate_arn"] == "${var.certificate_arn}"
    http = mod.resources[("aws_lb_listener", "http")]
    redirect = http["default_action"][0]
    assert redirect["type"] == "redirect" and redirect["redirect"][0]["protocol"] == "HTTPS"
    rule = mod.resources[("aws_lb_listener_rule", "webserver")]
    assert "dynamic" not in rule, "authentication is not optional"
    assert [(a["type"], a["order"]) for a in rule["action"]] == [("authenticate-oidc", 1), ("forward", 2)]
    assert "default" not in mod.variables["oidc"] and "default" not in mod.variables["oidc_client_secret"]
    assert mod.variables["oidc_client_secret"]["sensitive"] is True
    groups = mod.resources[("aws_lb_target_group", "webserver")]
    assert groups["target_type"] == "ip" and groups["port"] == "${var.webserver_port}"


# --- IAM ----------------------------------------------------------------------------------------


def statements(document: dict) -> list[dict]:
    """Statements of an aws_iam_policy_document, dynamic ones included."""
    found = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for label, body in dynamic.items():
            if label == "statement":
                found.extend(body["content"])
    for statement in found:
        statement.setdefault("effect", "Allow")
    return found


def policy_documents():
    for mod in all_modules().values():
        for (dtype, dname), body in mod.data.items():
            if dtype == "aws_iam_policy_document":
                yield mod, dname, body


# The interface endpoints' one statement: everything, but only for this account's principals.
INTERFACE_ENDPOINT_STATEMENT = {
    "sid": "ThisAccountOnly",
    "effect": "Allow",
    "actions": ["*"],
    "resources": ["*"],
    "principals": [{"type": "*", "identifiers": ["*"]}],
    "condition": [
        {"test": "StringEquals", "variable": "aws:PrincipalAccount", "values": ["${local.account_id}"]},
        {"test": "StringEqualsIfExists", "variable": "aws:ResourceAccount", "values": ["${local.account_id}"]},
    ],
}


def test_no_wildcard_actions_anywhere():
    checked = 0
    for mod, name, document in policy_documents():
        for statement in statements(document):
            assert "not_actions" not in statement, f"{mod.name}: {name} uses not_actions"
            for action in statement.get("actions", []):
                checked += 1
                if "*" not in action:
                    continue
                # The only wildcards allowed: a deny that makes a bucket TLS-only (it can only take
                # permissions away), and the interface endpoints' policy, which grants nothing
                # itself and narrows the endpoints to this account's principals.
                conditions = statement.get("condition", [])
                tls_only = statement["effect"] == "Deny" and any(
                    c["variable"] == "aws:SecureTransport" and c["values"] == ["false"] for c in conditions
                )
                endpoint = (mod.name, name) == ("modules/network", "interface_endpoint") and statement == (
                    INTERFACE_ENDPOINT_STATEMENT
                )
                assert tls_only or endpoint, (
                    f"{mod.name}: data.aws_iam_policy_document.{name} allows the wildcard action {action}"
                )
    assert checked > 100
    # No inline JSON policies bypass the documents above.
    for mod in all_modules().values():
        for (rtype, rname), body in mod.resources.items():
            if rtype in (
                "aws_iam_role_policy",
                "aws_iam_policy",
                "aws_s3_bucket_policy",
                "aws_sns_topic_policy",
                "aws_sqs_queue_policy",
            ):
                assert re.fullmatch(r"\$\{data\.aws_iam_policy_document\.\w+(\[0\])?\.json\}", body["policy"]), (
                    f"{mod.name}: {rtype}.{rname} must use an aws_iam_policy_document"
                )
            assert "inline_policy" not in body
        for (rtype, _), body in mod.resources.items():
            if rtype == "aws_iam_role_policy_attachment":
                assert not re.search(r"AdministratorAccess|PowerUser|FullAccess", body["policy_arn"])


def iam_document(name: str) -> list[dict]:
    """Statements of a policy document of the IAM module, with its source documents merged in."""
    iam = module("modules/iam")
    document = iam.data[("aws_iam_policy_document", name)]
    merged = []
    for source in document.get("source_policy_documents", []):
        (source_name,) = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", source).groups()
        merged.extend(iam_document(source_name))
    return merged + statements(document)


def test_run_worker_reads_raw_data_and_writes_only_its_outputs():
    for document in ("run", "reprocess"):
        writes, reads = set(), set()
        for statement in iam_document(document):
            assert statement["effect"] == "Allow"
            for action in statement["actions"]:
                service, verb = action.split(":")
                for resource in statement["resources"]:
                    if service == "rds-db":
                        # Its one login: the app user (IAM database authentication).
                        assert (action, statement["resources"]) == ("rds-db:connect", ["${local.db_app_user_arn}"])
                        continue
                    if service != "s3":
                        assert service == "kms", f"{document}: unexpected {action}"
                        continue
                    if verb.startswith(("Get", "List")):
                        reads.add((verb, resource))
                    else:
                        writes.add((verb, resource))
        raw = {r for _, r in reads | writes if "raw-data" in r}
        assert raw == {"${local.bucket_arn}/raw-data/*"}
        assert not [w for w in writes if "raw-data" in w[1]], f"{document} may modify raw data: {writes}"
        assert {r for _, r in writes} == {
            "${local.bucket_arn}/reports/*",
            "${local.bucket_arn}/quarantine/*",
            "${local.bucket_arn}/compute-logs/*",
            "${local.bucket_arn}/work/*",
        }
        assert {v for v, _ in writes} == {"PutObject", "AbortMultipartUpload", "DeleteObject"}
        assert {r for v, r in writes if v == "DeleteObject"} == {
            "${local.bucket_arn}/quarantine/*",
            "${local.bucket_arn}/work/*",
        }
        assert {v for v, r in reads if r.endswith("/*")} <= {"GetObject", "GetObjectVersion"}
        assert not [r for _, r in reads | writes if r.endswith(("}/*", "bucket_arn}"))] or all(
            r == "${local.bucket_arn}" for _, r in reads | writes if r.endswith("bucket_arn}")
        ), "no bucket-wide object access"
    reprocess_only = {(a, r) for s in iam_document("reprocess") for a in s["actions"] for r in s["resources"]} - {
        (a, r) for s in iam_document("run") for a in s["actions"] for r in s["resources"]
    }
    assert reprocess_only == {("s3:GetObject", "${local.bucket_arn}/reports/*")}


WORK_STATEMENTS = [
    {
        "sid": "ListShardWork",
        "effect": "Allow",
        "actions": ["s3:ListBucket", "s3:ListBucketVersions"],
        "resources": ["${local.bucket_arn}"],
        "condition": [{"test": "StringLike", "variable": "s3:prefix", "values": ["work/*"]}],
    },
    {
        "sid": "ReadWriteDeleteShardWork",
        "effect": "Allow",
        "actions": [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
        ],
        "resources": ["${local.bucket_arn}/work/*"],
    },
]
CLUSTER_CONDITION = [{"test": "ArnEquals", "variable": "ecs:cluster", "values": ["${local.cluster_arn}"]}]
# StopTask only on tasks the EcsRunLauncher tagged with their run (never a service's or db-setup's).
RUN_TAGGED_TASK = {"test": "Null", "variable": "aws:ResourceTag/dagster/run_id", "values": ["false"]}
DB_CONNECT_STATEMENT = {
    "sid": "ConnectToTheDatabaseAsTheAppUser",
    "effect": "Allow",
    "actions": ["rds-db:connect"],
    "resources": ["${local.db_app_user_arn}"],
}
# Terminating runs (describe, stop, resolve the run task definition): the webserver, the daemon and
# a sharded run's worker, through one document.
STOP_RUN_TASKS_STATEMENTS = [
    {
        "sid": "WatchTasksOfTheCluster",
        "effect": "Allow",
        "actions": ["ecs:DescribeTasks"],
        "resources": ["${local.cluster_tasks_arn}"],
        "condition": CLUSTER_CONDITION,
    },
    {
        "sid": "StopRunTasks",
        "effect": "Allow",
        "actions": ["ecs:StopTask"],
        "resources": ["${local.cluster_tasks_arn}"],
        "condition": CLUSTER_CONDITION + [RUN_TAGGED_TASK],
    },
    {
        "sid": "ResolveTheRunTaskDefinition",
        "effect": "Allow",
        "actions": ["ecs:DescribeTaskDefinition"],
        "resources": ["*"],
    },
]
# Launching them too: the daemon (runs) and the run worker (its step tasks), through one document.
STEP_LAUNCHER_STATEMENTS = STOP_RUN_TASKS_STATEMENTS + [
    {
        "sid": "RunTheRunWorkerTaskDefinition",
        "effect": "Allow",
        "actions": ["ecs:RunTask"],
        "resources": ["${local.run_task_definitions}"],
        "condition": CLUSTER_CONDITION,
    },
    {
        "sid": "TagRunTasksAtLaunch",
        "effect": "Allow",
        "actions": ["ecs:TagResource"],
        "resources": ["${local.cluster_tasks_arn}"],
        "condition": [{"test": "StringEquals", "variable": "ecs:CreateAction", "values": ["RunTask"]}],
    },
    {
        "sid": "PassOnlyTheRunRoles",
        "effect": "Allow",
        "actions": ["iam:PassRole"],
        "resources": ["${aws_iam_role.run.arn}", "${aws_iam_role.execution.arn}"],
        "condition": [
            {"test": "StringEquals", "variable": "iam:PassedToService", "values": ["ecs-tasks.amazonaws.com"]}
        ],
    },
]


# The run worker's and the RUN_DATE entry's access to the lake and the instance.
RUN_DATA_ACTIONS = {
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "rds-db:connect",
}
# What each Dagster task role may do, as IAM actions (the calls its code makes; the data bucket's
# KMS actions are in the dynamic statement that exists only with SSE-KMS).
ROLE_ACTIONS = {
    "daemon": {
        "ecs:RunTask",
        "ecs:TagResource",
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "ecs:DescribeTaskDefinition",
        "logs:GetLogEvents",
        "iam:PassRole",
        "rds-db:connect",
    },
    "webserver": {
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "ecs:DescribeTaskDefinition",
        "s3:ListBucket",
        "s3:GetObject",
        "kms:Decrypt",
        "rds-db:connect",
    },
    # The run worker: the lake, plus starting and stopping its step tasks.
    "run": RUN_DATA_ACTIONS
    | {
        "ecs:RunTask",
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "ecs:TagResource",
        "ecs:DescribeTaskDefinition",
        "iam:PassRole",
    },
    # The RUN_DATE entry: the run worker's lake access, no ECS.
    "reprocess": RUN_DATA_ACTIONS,
    "code_server": {
        "s3:ListBucketVersions",
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "rds-db:connect",
    },
}


def role_statements(mod: Module, role: str) -> list[dict]:
    """Every statement the inline policies of aws_iam_role.<role> grant, source documents merged."""
    assert mod.name == "modules/iam"
    found = []
    for (rtype, _), body in mod.resources.items():
        if rtype == "aws_iam_role_policy" and body["role"] == f"${{aws_iam_role.{role}.id}}":
            (document,) = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", body["policy"]).groups()
            found.extend(iam_document(document))
    return found


def task_roles() -> dict[str, list[dict]]:
    """Statements of every role ECS tasks assume, by role, across all modules."""
    roles = {}
    for mod in all_modules().values():
        for (rtype, rname), body in mod.resources.items():
            if rtype == "aws_iam_role" and "ecs_tasks_assume" in body["assume_role_policy"]:
                roles[rname] = role_statements(mod, rname)
                attached = [b for (t, _), b in mod.resources.items() if t == "aws_iam_role_policy_attachment"]
                assert not [b for b in attached if b["role"].startswith(f"${{aws_iam_role.{rname}.")], rname
    return roles


def test_run_and_reprocess_roles_keep_shard_work_under_work_prefix():
    for document in ("run", "reprocess"):
        found = [s for s in iam_document(document) if any("work/" in str(v) for v in values(s))]
        assert found == WORK_STATEMENTS, document
    # Both roles get them through the run document, the step tasks (run role) included.
    iam = module("modules/iam")
    assert iam.resources[("aws_iam_role_policy", "run")]["policy"] == "${data.aws_iam_policy_document.run.json}"
    reprocess = iam.data[("aws_iam_policy_document", "reprocess")]
    assert reprocess["source_policy_documents"] == ["${data.aws_iam_policy_document.run.json}"]


def test_only_the_run_worker_role_starts_step_tasks():
    roles = task_roles()
    assert set(roles) == {"execution", "db_setup_execution", "run", "reprocess", "daemon", "webserver", "code_server"}
    # The run worker: its data access plus exactly what the ecs_executor calls, nothing else of ECS.
    run = roles["run"]
    assert [s for s in run if any(a.startswith(("ecs:", "iam:", "ec2:")) for a in s["actions"])] == (
        STEP_LAUNCHER_STATEMENTS
    )
    iam = module("modules/iam")
    assert iam.resources[("aws_iam_role_policy", "run_step_launcher")] == {
        "name": "step-launcher",
        "role": "${aws_iam_role.run.id}",
        "policy": "${data.aws_iam_policy_document.launch_run_tasks.json}",
    }
    assert iam.locals["run_task_definitions"] == "${local.ecs_arn}:task-definition/${var.run_task_family}:*"
    assert iam.locals["cluster_tasks_arn"] == "${local.ecs_arn}:task/${var.cluster_name}/*"
    assert iam.locals["cluster_arn"] == "${local.ecs_arn}:cluster/${var.cluster_name}"
    # RunTask: the run worker (step tasks) and the run launcher (daemon), no other task role; the
    # webserver only terminates runs, the daemon launches the queued ones.
    holders = {role for role, found in roles.items() for s in found if "ecs:RunTask" in s["actions"]}
    assert holders == {"run", "daemon"}
    for role in ("reprocess", "code_server", "execution", "db_setup_execution"):
        assert not [a for s in roles[role] for a in s["actions"] if a.startswith(("ecs:", "iam:", "ec2:"))], role


def test_step_launcher_covers_the_ecs_executors_aws_calls():
    """Every AWS call dagster_aws's ecs_executor makes in the run worker is granted: the ECS calls
    of the step handler (its own task, RunTask, health checks, StopTask) and of the EcsRunLauncher
    it requires from the instance (the constructor resolves DAGSTER_RUN_TASK_DEFINITION). The EC2
    lookups only happen with use_current_ecs_task_config, which deploy/dagster.yaml turns off."""
    import inspect

    from dagster_aws.ecs import executor, launcher, tasks, utils

    sources = [
        inspect.getsource(executor.EcsStepHandler),
        inspect.getsource(launcher.EcsRunLauncher.__init__),
        inspect.getsource(tasks.get_current_ecs_task),
        inspect.getsource(utils.run_ecs_task),
    ]
    calls = {m for source in sources for m in re.findall(r"\becs\.(\w+)\(", source)}
    assert calls >= {"run_task", "describe_tasks", "stop_task", "describe_task_definition"}, calls
    granted = {a for s in STEP_LAUNCHER_STATEMENTS for a in s["actions"]}
    for call in calls:
        action = "ecs:" + "".join(part.title() for part in call.split("_"))
        assert action in granted, f"the ecs_executor calls {call}, the run-worker role lacks {action}"
    # The executor's only EC2 use (network interface lookups) is behind use_current_ecs_task_config.
    handler = inspect.getsource(executor.EcsStepHandler)
    assert handler.count("self.ec2") == 2
    assert re.search(
        r"if run_launcher\.use_current_ecs_task_config:\s+\w+ = get_task_kwargs_from_current_task\(\s+self\.ec2,",
        handler,
    )
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert config["use_current_ecs_task_config"] is False, (
        "the run-worker role would need ec2:DescribeNetworkInterfaces"
    )
    assert config["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    assert "secrets" not in config and config["secrets_tag"] is None, "no Secrets Manager calls at launcher start"
    # RunTask carries tags (the run's, dagster/step-key): ecs:TagResource with CreateAction RunTask.
    assert 'run_task_kwargs["tags"]' in handler


def test_run_launcher_role_is_exactly_the_issue_list():
    actions = {a for s in iam_document("run_launcher") for a in s["actions"]}
    assert actions == ROLE_ACTIONS["daemon"]
    assert not {"ecs:RegisterTaskDefinition", "ec2:DescribeNetworkInterfaces"} & actions
    (run_task,) = [s for s in iam_document("run_launcher") if s["actions"] == ["ecs:RunTask"]]
    assert run_task["resources"] == ["${local.run_task_definitions}"]
    iam = module("modules/iam")
    assert iam.locals["run_task_definitions"] == "${local.ecs_arn}:task-definition/${var.run_task_family}:*"
    assert (
        iam.resources[("aws_iam_role_policy", "daemon")]["policy"]
        == "${data.aws_iam_policy_document.run_launcher.json}"
    )
    # The webserver shares only the terminate-runs and login documents with the daemon.
    webserver = iam.data[("aws_iam_policy_document", "webserver")]
    assert webserver["source_policy_documents"] == [
        "${data.aws_iam_policy_document.stop_run_tasks.json}",
        "${data.aws_iam_policy_document.db_login.json}",
    ]


def test_pass_role_is_always_limited_to_a_service():
    found = 0
    for mod, name, document in policy_documents():
        for statement in statements(document):
            if "iam:PassRole" not in statement.get("actions", []):
                continue
            found += 1
            assert statement["actions"] == ["iam:PassRole"]
            assert "*" not in statement["resources"]
            conditions = {(c["test"], c["variable"]): c["values"] for c in statement.get("condition", [])}
            assert ("StringEquals", "iam:PassedToService") in conditions, f"{mod.name}: {name}"
    assert found >= 4
    (launcher,) = [s for s in iam_document("run_launcher") if s["actions"] == ["iam:PassRole"]]
    assert sorted(launcher["resources"]) == ["${aws_iam_role.execution.arn}", "${aws_iam_role.run.arn}"]
    assert launcher["condition"][0]["values"] == ["ecs-tasks.amazonaws.com"]


def test_github_deploy_role_trust_is_repository_and_environment_bound():
    iam = module("modules/iam")
    (trust,) = statements(iam.data[("aws_iam_policy_document", "deploy_assume")])
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in trust["condition"]}
    assert conditions["token.actions.githubusercontent.com:aud"] == ("StringEquals", ["sts.amazonaws.com"])
    test, subjects = conditions["token.actions.githubusercontent.com:sub"]
    assert test == "StringEquals", "no StringLike: a wildcard subject would admit any branch"
    assert subjects == "${local.github_subjects}"
    # Exactly one subject: the protected GitHub environment (its branch rule lives in GitHub).
    assert iam.locals["github_subjects"] == ["repo:${var.github_repository}:environment:${var.github_environment}"]
    assert "github_branch" not in iam.variables
    for environment in ENVIRONMENTS:
        env = stack()
        assert "github_deploy_branch" not in env.variables and "github_deploy_branch" not in tfvars(environment)
        assert "github_branch" not in env.calls["iam"]
        assert env.calls["iam"]["github_environment"] == "${var.environment}"


def test_every_role_trusts_one_service_or_github():
    for mod, name, document in policy_documents():
        for statement in statements(document):
            if not any(a.startswith("sts:AssumeRole") for a in statement.get("actions", [])):
                continue
            for principal in statement["principals"]:
                assert "*" not in principal["identifiers"], f"{mod.name}: {name}"
            assert statement.get("condition"), f"{mod.name}: {name} trust has no condition"


# What the code server's role may do, statement by statement: the raw_data sensor and the
# schedule (evaluated here, not in the daemon) drain the arrivals queue, list raw-data/ and read
# reports/; the run-failure sensor publishes alerts; tick logs go to compute-logs/.
CODE_SERVER_STATEMENTS = [
    DB_CONNECT_STATEMENT,  # the shared db_login document
    {
        "sid": "ListRawData",
        "effect": "Allow",
        "actions": ["s3:ListBucketVersions"],
        "resources": ["${local.bucket_arn}"],
        "condition": [{"test": "StringLike", "variable": "s3:prefix", "values": ["raw-data/*"]}],
    },
    {
        "sid": "ReadReports",
        "effect": "Allow",
        "actions": ["s3:GetObject"],
        "resources": ["${local.bucket_arn}/reports/*"],
    },
    {
        "sid": "WriteTickLogs",
        "effect": "Allow",
        "actions": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "resources": ["${local.bucket_arn}/compute-logs/*"],
    },
    {
        "sid": "DrainTheArrivalsQueue",
        "effect": "Allow",
        "actions": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        "resources": ["${var.arrivals_queue_arn}"],
    },
    {
        "sid": "DecryptArrivals",
        "effect": "Allow",
        "actions": ["kms:Decrypt"],
        "resources": ["${var.kms_key_arn}"],
        "condition": [
            {"test": "StringEquals", "variable": "kms:ViaService", "values": ["sqs.${local.region}.amazonaws.com"]}
        ],
    },
    {
        "sid": "PublishRunFailureAlerts",
        "effect": "Allow",
        "actions": ["sns:Publish"],
        "resources": ["${var.alert_topic_arn}"],
    },
    {
        "sid": "EncryptAlertsForTheTopic",
        "effect": "Allow",
        "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
        "resources": ["${var.kms_key_arn}"],
        "condition": [
            {"test": "StringEquals", "variable": "kms:ViaService", "values": ["sns.${local.region}.amazonaws.com"]}
        ],
    },
    {
        "sid": "DataBucketKmsKey",
        "effect": "Allow",
        "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
        "resources": ["${statement.value}"],
        "condition": [{"test": "StringEquals", "variable": "kms:ViaService", "values": ["${local.s3_via_service}"]}],
    },
]


def test_code_server_role_is_exactly_its_list():
    iam = module("modules/iam")
    assert role_statements(iam, "code_server") == CODE_SERVER_STATEMENTS
    assert iam.resources[("aws_iam_role_policy", "code_server")]["policy"] == (
        "${data.aws_iam_policy_document.code_server.json}"
    )
    assert stack().calls["iam"]["arrivals_queue_arn"] == "${module.arrivals.queue_arn}"


# Sample values for the references of the IAM module's policies, to match resource patterns.
IAM_SAMPLE = {
    "var.name": "pipeline-dev",
    "var.arrivals_queue_arn": "arn:aws:sqs:eu-west-1:123456789012:pipeline-dev-arrivals",
    "var.kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    "var.cluster_name": "pipeline-dev",
    "var.run_task_family": "pipeline-dev-run",
    "var.data_bucket_arn": "arn:aws:s3:::pipeline-dev-data-123456789012",
    "data.aws_caller_identity.current.account_id": "123456789012",
    "data.aws_partition.current.partition": "aws",
    "data.aws_region.current.region": "eu-west-1",
}
ARRIVALS_QUEUE = IAM_SAMPLE["var.arrivals_queue_arn"]
# terraform plan by the CI deploy role refreshes every queue of the environment: queue metadata,
# never a message.
DEPLOY_REFRESH_SQS_ACTIONS = {"sqs:GetQueueAttributes", "sqs:ListQueueTags"}


def iam_sample(text: str) -> str:
    """A policy string of the IAM module with its locals and the sample values substituted
    (anything else stays a ${...} and then matches nothing but itself)."""
    locals_ = module("modules/iam").locals

    def reference(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("local.") and isinstance(locals_.get(name[6:]), str):
            return iam_sample(locals_[name[6:]])
        return IAM_SAMPLE.get(name, match.group(0))

    return re.sub(r"\$\{([\w.]+)\}", reference, text)


def test_only_the_code_server_role_drains_the_arrivals_queue():
    """Across every role of the IAM module (every inline policy, source documents merged): only the
    code server's may receive, delete or hide messages of any queue, and it may do so on the
    arrivals queue only; no other role gets an sqs action on that queue, but the deploy role's
    read-only refresh. No role gets anything on the dead-letter queue here (replays are an
    operator's). The other modules' roles (the scheduler's) do not touch it either."""
    import fnmatch

    iam = module("modules/iam")
    roles = [name for (rtype, name) in iam.resources if rtype == "aws_iam_role"]
    assert {"code_server", "daemon", "webserver", "run", "reprocess", "execution", "deploy"} <= set(roles)
    consuming = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
    on_the_queue: dict[str, set[str]] = {}
    for role in roles:
        for statement in role_statements(iam, role):
            sqs = {a for a in statement.get("actions", []) if a.startswith("sqs:")}
            if not sqs:
                continue
            patterns = [iam_sample(r) for r in statement["resources"]]
            if any(fnmatch.fnmatchcase(ARRIVALS_QUEUE, p) for p in patterns):
                on_the_queue.setdefault(role, set()).update(sqs)
            if role != "code_server":
                assert not sqs & consuming, f"{role} may consume messages: {statement}"
            else:
                assert patterns == [ARRIVALS_QUEUE], f"the code server may consume only the arrivals queue: {statement}"
            assert not any(fnmatch.fnmatchcase(ARRIVALS_QUEUE + "-dlq", p) for p in patterns) or (
                role == "deploy" and sqs <= DEPLOY_REFRESH_SQS_ACTIONS
            ), f"{role} reaches the dead-letter queue: {statement}"
    assert on_the_queue.pop("code_server") == {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    assert on_the_queue == {"deploy": DEPLOY_REFRESH_SQS_ACTIONS}, on_the_queue
    # The code server decrypts what it receives, through SQS only; no other task role does.
    for role in roles:
        via_sqs = [
            s
            for s in role_statements(iam, role)
            if any(c["variable"] == "kms:ViaService" and "sqs." in str(c["values"]) for c in s.get("condition", []))
        ]
        assert len(via_sqs) == (1 if role == "code_server" else 0), role
    # Elsewhere, the only sqs permission of a role is the scheduler's own dead-letter queue.
    for mod, name, document in policy_documents():
        if mod.name in ("modules/iam", "modules/arrivals"):
            continue
        for statement in statements(document):
            sqs = {a for a in statement.get("actions", []) if a.startswith("sqs:")}
            if sqs:
                assert (mod.name, name, sqs) == ("modules/scheduler", "scheduler", {"sqs:SendMessage"})
                assert statement["resources"] == ["${aws_sqs_queue.dead_letter[0].arn}"]


# --- ECS: names, environment and secrets ---------------------------------------------------------


def ecs_locals() -> dict:
    return module("modules/ecs").locals


def test_container_names_environment_and_secrets_are_the_binding_ones():
    local = ecs_locals()
    tasks = local["tasks"]
    assert set(tasks) == DAGSTER_TASKS | {"db-setup"}
    assert {t["container"] for t in tasks.values()} == CONTAINER_NAMES
    for key in ("webserver", "daemon", "code-server", "run", "db-setup"):
        assert tasks[key]["container"] == key
    assert tasks["reprocess"]["container"] == "run"
    assert set(local["environment"]) == PLAIN_ENVIRONMENT
    # Every Dagster task: the shared environment, no secret at all (IAM database authentication).
    for key in DAGSTER_TASKS:
        assert tasks[key]["environment"] == "${local.environment}", key
        assert tasks[key]["secrets"] == {} and set(tasks[key]["secrets"]) == SECRETS, key
    assert "secrets" not in local, "no shared secrets map"
    assert local["environment"]["DAGSTER_PG_USERNAME"] == "${var.db_app_username}"
    environment = local["environment"]
    assert environment["PIPELINE_STORAGE_URL"] == "s3://${var.data_bucket_name}"
    assert environment["PIPELINE_LOG_FORMAT"] == "json"
    assert environment["PGSSLMODE"] == "require"  # IAM tokens only over TLS
    assert environment["PIPELINE_ENVIRONMENT"] == "${var.environment}"
    assert environment["DAGSTER_COMPUTE_LOG_BUCKET"] == "${var.data_bucket_name}"
    assert environment["DAGSTER_RUN_TASK_DEFINITION"] == "${var.run_task_family}"
    assert environment["DAGSTER_RUN_SUBNETS"] == '${join(",", var.private_subnet_ids)}'
    assert environment["DAGSTER_ECS_CLUSTER"] == "${aws_ecs_cluster.this.name}"
    assert environment["PIPELINE_ARRIVALS_QUEUE_URL"] == "${var.arrivals_queue_url}"
    assert environment["PIPELINE_ECS_SIZE_TIERS"] == "${local.size_tiers_setting}"
    assert not any("password" in str(v).lower() for k, v in environment.items()), "no secret in plain text"


def test_sharded_days_run_their_steps_on_ecs():
    """Every container that loads the code (code server, run worker and its step tasks, RUN_DATE
    entry) gets the step executor and the shard size, through the shared environment."""
    ecs = module("modules/ecs")
    local = ecs_locals()
    environment = local["environment"]
    assert environment["PIPELINE_STEP_EXECUTOR"] == "ecs"
    assert environment["PIPELINE_SHARD_BYTES"] == "${tostring(var.shard_bytes)}"
    shard_bytes = ecs.variables["shard_bytes"]
    assert shard_bytes["type"] == "number" and default_of(shard_bytes) == 2147483648 == 2 << 30
    assert "parallel shards" in shard_bytes["description"]
    for key in ("code-server", "run", "reprocess"):
        assert key in local["tasks"]
    # Step tasks are the run-worker task definition: its ephemeral storage holds a shard's spill.
    storage = ecs.variables["run_ephemeral_storage_gib"]
    assert default_of(storage) >= 50 and "shard" in storage["description"]
    assert local["tasks"]["run"]["ephemeral_storage"] == "${var.run_ephemeral_storage_gib}"
    assert local["tasks"]["reprocess"]["ephemeral_storage"] == "${var.run_ephemeral_storage_gib}"
    for environment_name in ENVIRONMENTS:
        env = stack()
        assert env.calls["ecs"]["shard_bytes"] == "${var.shard_bytes}"
        assert default_of(env.variables["shard_bytes"]) == default_of(shard_bytes)
        assert "shard_bytes" not in tfvars(environment_name)


def test_pipeline_settings_in_the_task_environment_are_the_pipelines():
    """Every PIPELINE_* name Terraform sets is one the pipeline reads (pipeline_project/settings.py)."""
    from pipeline_project.settings import SETTINGS

    names = {n for n in ecs_locals()["environment"] if n.startswith("PIPELINE_")}
    assert names >= {
        "PIPELINE_STEP_EXECUTOR",
        "PIPELINE_SHARD_BYTES",
        "PIPELINE_ARRIVALS_QUEUE_URL",
        "PIPELINE_ECS_SIZE_TIERS",
    }
    assert names <= set(SETTINGS), sorted(names - set(SETTINGS))
    assert int(SETTINGS["PIPELINE_SHARD_BYTES"].default) == default_of(module("modules/ecs").variables["shard_bytes"])


def test_every_container_definition_gets_the_whole_environment():
    """The container definitions are built from the locals above for every task: one container,
    named after the task's container, with the task's environment and secrets (the shared
    environment and none for Dagster's tasks, db-setup's own for db-setup)."""
    ecs = module("modules/ecs")
    definitions = code_of(ecs_locals()["container_definitions"])
    assert definitions.startswith("{for key, task in local.tasks : key => [merge(")
    for fragment in (
        "name = task.container",
        "environment = [for name in sort(keys(task.environment)) : {name = name, value = task.environment[name]}]",
        "secrets = [for name in sort(keys(task.secrets)) : {name = name, valueFrom = task.secrets[name]}]",
        "readonlyRootFilesystem = var.readonly_root_filesystem",
        "command = task.command",
    ):
        assert fragment in definitions, fragment
    task_definition = ecs.resources[("aws_ecs_task_definition", "this")]
    assert task_definition["for_each"] == "${local.tasks}"
    assert task_definition["container_definitions"] == "${jsonencode(local.container_definitions[each.key])}"
    assert task_definition["family"] == "${each.value.family}"
    assert task_definition["execution_role_arn"] == "${each.value.execution_role}"
    assert task_definition["task_role_arn"] == "${each.value.task_role_arn}"
    assert task_definition["requires_compatibilities"] == ["FARGATE"]
    assert task_definition["network_mode"] == "awsvpc"
    assert ecs.variables["readonly_root_filesystem"]["default"] is True


def resolve(text, local: dict):
    """Substitute ${local.x} with literal locals and tostring(var.port) with the port default."""
    ecs = module("modules/ecs")
    if not isinstance(text, str):
        return text
    text = re.sub(r"\$\{local\.(\w+)\}", lambda m: resolve(local[m.group(1)], local), text)
    return re.sub(r"\$\{tostring\(var\.(\w+)\)\}", lambda m: str(default_of(ecs.variables[m.group(1)])), text)


def test_commands_families_and_log_streams():
    local = ecs_locals()
    assert local["dagster_home"] == DAGSTER_HOME
    for key, task in local["tasks"].items():
        command = task["command"]
        expected = COMMANDS[key]
        if expected is None:
            assert command is None
        else:
            assert [resolve(part, local) for part in command] == expected, key
    families = {key: task["family"] for key, task in local["tasks"].items()}
    assert families == {
        "webserver": "${var.name}-webserver",
        "daemon": "${var.name}-daemon",
        "code-server": "${var.name}-code-server",
        "run": "${var.run_task_family}",
        "reprocess": "${var.reprocess_task_family}",
        "db-setup": "${var.name}-db-setup",
    }
    env = stack()
    assert env.locals["run_task_family"] == "${local.name}-run"
    assert env.locals["reprocess_task_family"] == "${local.name}-reprocess"
    assert env.calls["ecs"]["run_task_family"] == "${local.run_task_family}"
    assert env.calls["ecs"]["reprocess_task_family"] == "${local.reprocess_task_family}"
    assert env.calls["ecs"]["name"] == "${local.name}"
    definitions = local["container_definitions"]
    assert '"awslogs-stream-prefix" = task.container' in definitions
    assert '"awslogs-group" = var.log_group_name' in definitions


def test_services():
    ecs = module("modules/ecs")
    cluster = ecs.resources[("aws_ecs_cluster", "this")]
    assert cluster["name"] == "${var.name}"
    assert cluster["setting"][0]["name"] == "containerInsights"
    assert ecs.variables["container_insights"]["default"] in ("enhanced", "enabled")
    providers = ecs.resources[("aws_ecs_cluster_capacity_providers", "this")]
    assert providers["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    # The three services come from one definition, one entry each in local.services.
    services = {n: b for (t, n), b in ecs.resources.items() if t == "aws_ecs_service"}
    assert set(services) == {"this"}
    service = services["this"]
    assert service["for_each"] == "${local.services}"
    assert service["name"] == "${var.name}-${each.value.task}"
    assert service["task_definition"] == "${aws_ecs_task_definition.this[each.value.task].arn}"
    definitions = ecs.locals["services"]
    assert {key: d["task"] for key, d in definitions.items()} == {
        "webserver": "webserver",
        "daemon": "daemon",
        "code_server": "code-server",
    }
    assert {key for key, d in definitions.items() if literal(d["blue_green"]) is True} == {"webserver"}
    assert {key for key, d in definitions.items() if literal(d["discoverable"]) is True} == {"code_server"}
    assert service["deployment_configuration"][0]["strategy"] == '${each.value.blue_green ? "BLUE_GREEN" : "ROLLING"}'
    breaker = service["deployment_circuit_breaker"][0]
    assert literal(breaker["enable"]) is True and literal(breaker["rollback"]) is True
    balancer = service["dynamic"][0]["load_balancer"]
    assert balancer["for_each"] == "${each.value.blue_green ? [each.value.task] : []}"
    assert balancer["content"][0]["container_name"] == "${load_balancer.value}"
    advanced = balancer["content"][0]["advanced_configuration"][0]
    assert advanced["alternate_target_group_arn"] == "${var.green_target_group_arn}"
    assert advanced["production_listener_rule"] == "${var.production_listener_rule_arn}"
    registry = service["dynamic"][1]["service_registries"]
    assert registry["for_each"] == "${each.value.discoverable ? [aws_service_discovery_service.code_server.arn] : []}"
    assert definitions["daemon"]["desired_count"] == 1
    assert definitions["daemon"]["maximum_percent"] == 100, "never two daemons at once"
    assert definitions["daemon"]["minimum_healthy_percent"] == 0
    assert service["deployment_maximum_percent"] == "${each.value.maximum_percent}"
    # The addresses of the three former resources move into the one.
    (moved,) = [parsed["moved"] for parsed in ecs.files.values() if "moved" in parsed]
    assert [(m["from"], m["to"]) for m in moved] == [
        ("${aws_ecs_service.webserver}", '${aws_ecs_service.this["webserver"]}'),
        ("${aws_ecs_service.daemon}", '${aws_ecs_service.this["daemon"]}'),
        ("${aws_ecs_service.code_server}", '${aws_ecs_service.this["code_server"]}'),
    ]
    assert ecs.variables["service_discovery_namespace"]["default"] == "pipeline.local"
    assert ecs.resources[("aws_service_discovery_service", "code_server")]["name"] == "code-server"


def test_names_agree_with_deploy_files_and_the_image():
    """deploy/dagster.yaml reads only variables the task definitions set; deploy/workspace.yaml
    points at the Cloud Map name; the Dockerfile's DAGSTER_HOME is the one the tasks assume."""
    dagster_yaml = REPO / "deploy" / "dagster.yaml"
    workspace = REPO / "deploy" / "workspace.yaml"
    dockerfile = REPO / "Dockerfile"
    for path in (dagster_yaml, workspace, dockerfile):
        assert path.exists(), f"{path.relative_to(REPO)} is missing"
    config = yaml.safe_load(dagster_yaml.read_text())
    used = {value for key, value in walk_items(config) if key in ("env", "env_list") and isinstance(value, str)}
    assert used, "deploy/dagster.yaml reads no environment variable"
    assert used <= PLAIN_ENVIRONMENT | SECRETS, sorted(used - PLAIN_ENVIRONMENT - SECRETS)
    assert config["run_launcher"]["config"]["container_name"] == "run"
    assert config["compute_logs"]["config"]["prefix"] == "compute-logs"
    (location,) = yaml.safe_load(workspace.read_text())["load_from"]
    assert location["grpc_server"]["host"] == "code-server.pipeline.local"
    assert location["grpc_server"]["port"] == 4000
    assert location["grpc_server"]["location_name"] == "pipeline_project"
    assert re.search(r"DAGSTER_HOME=/opt/dagster/dagster_home\b", dockerfile.read_text())
    # scripts/e2e-test.sh reads the bucket and the UI URL from these outputs by default.
    e2e = REPO / "scripts" / "e2e-test.sh"
    if e2e.exists():
        defaults = set(re.findall(r"E2E_TF_\w+_OUTPUT:-(\w+)", e2e.read_text()))
        outputs = stack().outputs
        assert defaults <= set(outputs), sorted(defaults - set(outputs))


def test_alarms_watch_the_metrics_the_pipeline_emits():
    from pipeline_project.observability import emf

    assert emf.NAMESPACE == METRIC_NAMESPACE and emf.DIMENSION == "Environment"
    assert set(emf.METRICS) == METRIC_NAMES
    obs = module("modules/observability")
    assert obs.variables["metric_namespace"]["default"] == METRIC_NAMESPACE
    assert obs.locals["dimensions"] == {"Environment": "${var.environment}"}
    alarms = {n: b for (t, n), b in obs.resources.items() if t == "aws_cloudwatch_metric_alarm"}
    no_report = alarms["no_report"]
    assert no_report["metric_name"] == "ReportsWritten"
    assert no_report["statistic"] == "Sum" and no_report["period"] == 86400
    assert no_report["comparison_operator"] == "LessThanThreshold" and no_report["threshold"] == 1
    assert no_report["treat_missing_data"] == "breaching"
    assert alarms["run_duration"]["metric_name"] == "RunDurationSeconds"
    assert alarms["rejection_rate"]["metric_name"] == "RejectionRate"
    for name in ("no_report", "run_duration", "rejection_rate"):
        assert alarms[name]["namespace"] == "${local.metric}"
        assert alarms[name]["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    dashboard = obs.resources[("aws_cloudwatch_dashboard", "this")]["dashboard_body"]
    assert set(re.findall(r'local\.metric, "(\w+)"', dashboard)) <= METRIC_NAMES
    log_group = obs.resources[("aws_cloudwatch_log_group", "ecs")]
    assert log_group["name"] == "/ecs/${var.name}"
    assert log_group["retention_in_days"] == "${var.log_retention_days}"
    assert log_group["kms_key_id"] == "${var.kms_key_arn}"
    assert obs.resources[("aws_sns_topic", "alarms")]["kms_master_key_id"] == "${var.kms_key_arn}"
    pattern = obs.resources[("aws_cloudwatch_event_rule", "run_task_failed")]["event_pattern"]
    for fragment in (
        '"detail-type" = ["ECS Task State Change"]',
        'lastStatus = ["STOPPED"]',
        "name = [var.run_container_name]",
        'exitCode = [{"anything-but" = [0]}]',
    ):
        assert fragment in code_of(pattern) or fragment in pattern, fragment
    assert obs.variables["run_container_name"]["default"] == "run"


def test_optional_reprocess_schedule():
    sched = module("modules/scheduler")
    assert sched.variables["enabled"]["default"] is False
    schedule = sched.resources[("aws_scheduler_schedule", "reprocess")]
    assert schedule["count"] == "${local.instances}"
    target = schedule["target"][0]
    assert target["retry_policy"] and target["dead_letter_config"][0]["arn"] == "${aws_sqs_queue.dead_letter[0].arn}"
    ecs = target["ecs_parameters"][0]
    assert ecs["launch_type"] == "FARGATE"
    assert ecs["task_definition_arn"] == "${var.task_definition_arn}"
    queue = sched.resources[("aws_sqs_queue", "dead_letter")]
    assert queue["kms_master_key_id"] == "${var.kms_key_arn}"
    call = stack().calls["scheduler"]
    assert call["task_definition_arn"] == "${module.ecs.reprocess_task_definition_arn}"
    assert call["task_role_arn"] == "${module.iam.reprocess_task_role_arn}"


# --- Arrivals: S3 -> EventBridge -> SQS -> the raw_data sensor ----------------------------------


def hcl_value(expression: str):
    """The value of an HCL literal expression (jsonencode(...) unwrapped), references kept as
    "${...}" strings."""
    text = expression[2:-1] if is_expression(expression) else expression
    wrapped = re.fullmatch(r"jsonencode\((.*)\)", text, flags=re.DOTALL)
    if wrapped:
        text = wrapped.group(1)
    return strip_markers(hcl2.loads(f"value = {text}\n", serialization_options=OPTIONS))["value"]


def arrivals() -> Module:
    return module("modules/arrivals")


def test_arrivals_rule_matches_this_buckets_raw_data_only():
    mod = arrivals()
    rule = mod.resources[("aws_cloudwatch_event_rule", "arrivals")]
    assert rule["name"] == "${var.name}-arrivals"
    assert rule["event_bus_name"] == "default"
    assert "event_pattern" in rule and "schedule_expression" not in rule
    assert hcl_value(rule["event_pattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {
            "bucket": {"name": ["${var.data_bucket_name}"]},
            "object": {"key": [{"prefix": "${var.raw_data_prefix}"}]},
        },
    }
    assert default_of(mod.variables["raw_data_prefix"]) == "raw-data/"
    # With this environment's bucket and the default prefix, the exact pattern EventBridge gets.
    pattern = json.dumps(hcl_value(rule["event_pattern"]), separators=(",", ":"))
    pattern = pattern.replace("${var.data_bucket_name}", "pipeline-dev-data-123456789012")
    pattern = pattern.replace("${var.raw_data_prefix}", "raw-data/")
    assert pattern == (
        '{"source":["aws.s3"],"detail-type":["Object Created","Object Deleted"],'
        '"detail":{"bucket":{"name":["pipeline-dev-data-123456789012"]},"object":{"key":[{"prefix":"raw-data/"}]}}}'
    )
    # The bucket emits the events; every environment points the rule at its own bucket.
    assert literal(module("modules/data_bucket").resources[("aws_s3_bucket_notification", "this")]["eventbridge"])
    call = stack().calls["arrivals"]
    assert call["name"] == "${local.name}"
    assert call["data_bucket_name"] == "${module.data_bucket.bucket_id}"
    assert "raw_data_prefix" not in call


def test_arrivals_target_retries_and_keeps_what_it_cannot_deliver():
    mod = arrivals()
    (target,) = [b for (t, _), b in mod.resources.items() if t == "aws_cloudwatch_event_target"]
    assert target["rule"] == "${aws_cloudwatch_event_rule.arrivals.name}"
    assert target["arn"] == "${aws_sqs_queue.arrivals.arn}"
    (retry,) = target["retry_policy"]
    assert retry == {
        "maximum_event_age_in_seconds": "${var.maximum_event_age_seconds}",
        "maximum_retry_attempts": "${var.maximum_retry_attempts}",
    }
    assert default_of(mod.variables["maximum_event_age_seconds"]) == 86400
    assert default_of(mod.variables["maximum_retry_attempts"]) == 185
    assert target["dead_letter_config"] == [{"arn": "${aws_sqs_queue.dead_letter.arn}"}]
    assert "input_transformer" not in target, "the sensor reads the S3 event as EventBridge sends it"


def test_arrivals_queues_are_encrypted_retained_and_redriven():
    mod = arrivals()
    queues = {n: b for (t, n), b in mod.resources.items() if t == "aws_sqs_queue"}
    assert set(queues) == {"arrivals", "dead_letter"}
    assert mod.locals["queue_name"] == "${var.name}-arrivals"
    assert mod.locals["dlq_name"] == "${var.name}-arrivals-dlq"
    assert queues["arrivals"]["name"] == "${local.queue_name}"
    assert queues["dead_letter"]["name"] == "${local.dlq_name}"
    retention = mod.variables["message_retention_seconds"]
    assert default_of(retention) == 14 * 86400
    assert retention["validation"][0]["condition"].startswith("${var.message_retention_seconds >= 345600 &&")
    for name, queue in queues.items():
        # The environment's key (SSE-KMS), never unencrypted or SQS-managed.
        assert queue["kms_master_key_id"] == "${var.kms_key_arn}", name
        assert "sqs_managed_sse_enabled" not in queue, name
        assert queue["message_retention_seconds"] == "${var.message_retention_seconds}", name
        assert "fifo_queue" not in queue and "delay_seconds" not in queue, name
    assert queues["arrivals"]["visibility_timeout_seconds"] == "${var.visibility_timeout_seconds}"
    assert default_of(mod.variables["visibility_timeout_seconds"]) == 600
    assert hcl_value(queues["arrivals"]["redrive_policy"]) == {
        "deadLetterTargetArn": "${aws_sqs_queue.dead_letter.arn}",
        "maxReceiveCount": "${var.max_receive_count}",
    }
    assert default_of(mod.variables["max_receive_count"]) == 5
    assert "redrive_policy" not in queues["dead_letter"]
    allow = mod.resources[("aws_sqs_queue_redrive_allow_policy", "dead_letter")]
    assert allow["queue_url"] == "${aws_sqs_queue.dead_letter.id}"
    assert hcl_value(allow["redrive_allow_policy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": ["${aws_sqs_queue.arrivals.arn}"],
    }
    assert stack().calls["arrivals"]["kms_key_arn"] == "${module.kms.key_arn}"


def test_arrivals_queue_policies_admit_only_the_rule():
    """Each queue has one policy of one statement: SendMessage by EventBridge on behalf of the
    arrivals rule (the main queue as the target, the dead-letter queue for failed deliveries)."""
    mod = arrivals()
    policies = {b["queue_url"]: b for (t, _), b in mod.resources.items() if t == "aws_sqs_queue_policy"}
    assert set(policies) == {"${aws_sqs_queue.arrivals.id}", "${aws_sqs_queue.dead_letter.id}"}
    for queue_url, policy in policies.items():
        queue = queue_url.split(".")[1]
        (document,) = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", policy["policy"]).groups()
        (statement,) = statements(mod.data[("aws_iam_policy_document", document)])
        assert statement["effect"] == "Allow"
        assert statement["actions"] == ["sqs:SendMessage"]
        assert statement["resources"] == [f"${{aws_sqs_queue.{queue}.arn}}"]
        assert statement["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
        assert statement["condition"] == [
            {"test": "ArnEquals", "variable": "aws:SourceArn", "values": ["${aws_cloudwatch_event_rule.arrivals.arn}"]}
        ]
    # No other queue policy anywhere in the stack.
    others = [(m.name, n) for m in all_modules().values() for (t, n) in m.resources if t == "aws_sqs_queue_policy"]
    assert sorted(others) == [("modules/arrivals", "arrivals"), ("modules/arrivals", "dead_letter")]


def test_environment_key_admits_the_arrivals_rule_for_its_queues():
    """SQS encrypts what EventBridge sends with the environment key on the rule's behalf: the key
    policy admits events.amazonaws.com for that rule only (the name modules/arrivals gives it)."""
    kms = module("modules/kms")
    (statement,) = [
        s
        for s in statements(kms.data[("aws_iam_policy_document", "key")])
        if s.get("sid") == "ArrivalsRuleToEncryptedQueues"
    ]
    assert statement["effect"] == "Allow"
    assert statement["actions"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert statement["condition"] == [
        {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["${local.account_id}"]},
        {"test": "ArnEquals", "variable": "aws:SourceArn", "values": ["${local.arrivals_rule_arn}"]},
    ]
    assert kms.locals["arrivals_rule_arn"] == (
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-arrivals"
    )
    assert arrivals().resources[("aws_cloudwatch_event_rule", "arrivals")]["name"] == "${var.name}-arrivals"
    assert arrivals().resources[("aws_cloudwatch_event_rule", "arrivals")]["event_bus_name"] == "default"
    calls = stack().calls
    assert calls["kms"]["name"] == calls["arrivals"]["name"] == "${local.name}"


def test_arrivals_alarms_go_to_the_alarm_topic():
    mod = arrivals()
    alarms = {n: b for (t, n), b in mod.resources.items() if t == "aws_cloudwatch_metric_alarm"}
    assert set(alarms) == {"dead_letters", "not_drained"}
    dead_letters, not_drained = alarms["dead_letters"], alarms["not_drained"]
    assert dead_letters["alarm_name"] == "${var.name}-arrivals-dead-letters"
    assert dead_letters["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letters["dimensions"] == {"QueueName": "${aws_sqs_queue.dead_letter.name}"}
    assert dead_letters["comparison_operator"] == "GreaterThanThreshold" and dead_letters["threshold"] == 0
    assert not_drained["alarm_name"] == "${var.name}-arrivals-not-drained"
    assert not_drained["metric_name"] == "ApproximateAgeOfOldestMessage"
    assert not_drained["dimensions"] == {"QueueName": "${aws_sqs_queue.arrivals.name}"}
    assert not_drained["comparison_operator"] == "GreaterThanThreshold"
    assert not_drained["threshold"] == "${var.oldest_message_age_alarm_seconds}"
    threshold = mod.variables["oldest_message_age_alarm_seconds"]
    assert threshold["type"] == "number" and default_of(threshold) == 3600
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/SQS"
        assert alarm["statistic"] == "Maximum"
        assert alarm["treat_missing_data"] == "notBreaching"
        assert literal(alarm["actions_enabled"]) is True
        assert alarm["alarm_actions"] == alarm["ok_actions"] == ["${var.alarm_topic_arn}"]
    call = stack().calls["arrivals"]
    assert call["alarm_topic_arn"] == "${module.observability.alarm_topic_arn}"
    # The deploy role refreshes them in CI: they are named like the environment's other alarms.
    assert any(r.endswith(":alarm:${var.name}-*") for s in iam_document("deploy") for r in s["resources"])


def test_arrivals_outputs_reach_the_tasks_and_the_operator():
    mod = arrivals()
    assert {k: v["value"] for k, v in mod.outputs.items()} == {
        "queue_url": "${aws_sqs_queue.arrivals.url}",
        "queue_arn": "${aws_sqs_queue.arrivals.arn}",
        "dlq_url": "${aws_sqs_queue.dead_letter.url}",
        "dlq_arn": "${aws_sqs_queue.dead_letter.arn}",
        "rule_arn": "${aws_cloudwatch_event_rule.arrivals.arn}",
    }
    env = stack()
    assert env.calls["ecs"]["arrivals_queue_url"] == "${module.arrivals.queue_url}"
    outputs = {k: v["value"] for k, v in env.outputs.items() if k.startswith("arrivals_")}
    assert outputs == {
        "arrivals_queue_url": "${module.arrivals.queue_url}",
        "arrivals_queue_arn": "${module.arrivals.queue_arn}",
        "arrivals_dlq_url": "${module.arrivals.dlq_url}",
        "arrivals_dlq_arn": "${module.arrivals.dlq_arn}",
    }
    # Every Dagster container (code server, daemon, webserver, run worker, RUN_DATE entry) gets the
    # URL through the shared environment; db-setup needs none of the pipeline's settings.
    assert ecs_locals()["environment"]["PIPELINE_ARRIVALS_QUEUE_URL"] == "${var.arrivals_queue_url}"
    assert set(ecs_locals()["tasks"]) == DAGSTER_TASKS | {"db-setup"}
    assert {k for k, t in ecs_locals()["tasks"].items() if t["environment"] == "${local.environment}"} == DAGSTER_TASKS


# --- Run sizes: run_size_tiers -> task definitions and PIPELINE_ECS_SIZE_TIERS -------------------


def _closing(text: str, start: int) -> int:
    """Index of the bracket that closes the one at text[start] (strings skipped)."""
    depth, in_string, i = 0, False, start
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced expression: {text[start:]}")


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, in_string, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    return [*parts, text[start:]]


def hcl_to_python(text: str) -> str:
    """A Python expression for an HCL expression of the small subset variable validations here use:
    literals, attribute and index access, arithmetic and comparisons, && and ||, list
    for-expressions without an if clause, object literals and function calls (try() becomes lazy).
    Anything outside it fails to compile or to evaluate, and so is noticed."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("[for ", i):
            end = _closing(text, i)
            head, body = _split_top_level(text[i + len("[for ") : end], " : ")
            assert " if " not in body, "for-expressions with an if clause are not supported"
            out.append(f"[{hcl_to_python(body)} for {hcl_to_python(head)}]")
            i = end + 1
        elif text.startswith("try(", i) and not (i and (text[i - 1].isalnum() or text[i - 1] in "_.")):
            end = _closing(text, i + 3)
            alternatives = _split_top_level(text[i + 4 : end], ", ")
            out.append("_try(" + ", ".join(f"lambda: {hcl_to_python(a)}" for a in alternatives) + ")")
            i = end + 1
        elif text.startswith("can(", i) and not (i and (text[i - 1].isalnum() or text[i - 1] in "_.")):
            end = _closing(text, i + 3)
            out.append(f"_can(lambda: {hcl_to_python(text[i + 4 : end])})")
            i = end + 1
        elif text[i] == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i : end + 1])
            i = end + 1
        elif text.startswith("&&", i) or text.startswith("||", i):
            out.append(" and " if text[i] == "&" else " or ")
            i += 2
        elif text.startswith(" = ", i):  # an object literal's attribute
            out.append(": ")
            i += 3
        elif text[i] == "!" and not text.startswith("!=", i):
            out.append(" not ")
            i += 1
        else:
            out.append(text[i])
            i += 1
    code = re.sub(r"\bnull\b", "None", "".join(out))
    return re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", code))


def _tf_range(*args):
    start, limit, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], None) if len(args) == 2 else args
    return list(range(start, limit, step if step is not None else (1 if start <= limit else -1)))


def _tf_try(*alternatives):
    for alternative in alternatives:
        try:
            return alternative()
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            continue
    raise ValueError("no expression of try() could be evaluated")


def _tf_can(expression):
    try:
        expression()
    except Exception:  # noqa: BLE001  (can() is true exactly when the expression has no error)
        return False
    return True


def _tf_network(prefix: str):
    import ipaddress

    if "/" not in prefix:  # Terraform's CIDR functions need a prefix length
        raise ValueError(f"{prefix!r} is not in CIDR notation")
    return ipaddress.ip_network(prefix, strict=False)


def _tf_regex(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if not match:
        raise ValueError(f"{text!r} does not match {pattern!r}")
    return match.group(0)


def _tf_tonumber(text):
    value = float(text)
    return int(value) if value.is_integer() else value


TF_FUNCTIONS = {
    "alltrue": lambda items: all(item is True for item in items),
    "contains": lambda items, item: item in items,
    "floor": math.floor,
    "length": len,
    "lookup": lambda mapping, key, default: mapping.get(key, default),
    "max": max,
    "range": _tf_range,
    "tomap": dict,
    "tostring": lambda v: str(int(v)) if isinstance(v, (int, float)) and float(v).is_integer() else str(v),
    "_try": _tf_try,
    "_can": _tf_can,
    "cidrhost": lambda prefix, host: str(_tf_network(prefix)[host]),
    "cidrsubnet": lambda prefix, newbits, number: str(list(_tf_network(prefix).subnets(newbits))[number]),
    "regex": _tf_regex,
    "split": lambda separator, text: text.split(separator),
    "startswith": lambda text, prefix: text.startswith(prefix),
    "tonumber": _tf_tonumber,
}


@functools.cache
def compiled_condition(condition: str):
    assert is_expression(condition), condition
    return compile(hcl_to_python(condition[2:-1]), "<validation>", "eval")


def validation_failures(variable: dict, name: str, value) -> list[str]:
    """The error messages of the validations of `variable` (var.<name>) that `value` fails, as
    Terraform would evaluate them (a condition that cannot be evaluated fails, as in Terraform)."""

    def objects(v):
        if isinstance(v, dict):
            return type("Object", (), {k: objects(x) for k, x in v.items()})
        if isinstance(v, list):
            return [objects(x) for x in v]
        return v

    scope = {"__builtins__": {}, **TF_FUNCTIONS, "var": type("Var", (), {name: objects(value)})}
    failed = []
    for validation in variable["validation"]:
        try:
            ok = eval(compiled_condition(validation["condition"]), scope)  # noqa: S307  (our own HCL, a tiny subset)
        except Exception:  # noqa: BLE001  (Terraform rejects a value whose condition errors)
            ok = False
        if ok is not True:
            failed.append(validation["error_message"])
    return failed


def render_size_tiers(tiers: list[dict]) -> str:
    """PIPELINE_ECS_SIZE_TIERS the way modules/ecs renders run_size_tiers."""
    return ",".join(f"{int(t['min_bytes'])}:{int(t['cpu'])}/{int(t['memory'])}" for t in tiers)


GIB = 1 << 30
EXPECTED_SIZE_TIERS = {
    "dev": "0:1024/4096,5368709120:2048/8192,21474836480:4096/16384",
    "prod": "0:2048/8192,5368709120:4096/16384,21474836480:8192/32768",
}


def test_run_size_tiers_replace_run_cpu_and_memory():
    ecs = module("modules/ecs")
    assert "run_cpu" not in ecs.variables and "run_memory" not in ecs.variables
    assert ecs.variables["run_size_tiers"]["type"] == (
        "${list(object({min_bytes = number, cpu = number, memory = number}))}"
    )
    local = ecs_locals()
    assert local["first_size_tier"] == "${var.run_size_tiers[0]}"
    for key in ("run", "reprocess"):
        assert local["tasks"][key]["cpu"] == "${local.first_size_tier.cpu}"
        assert local["tasks"][key]["memory"] == "${local.first_size_tier.memory}"
    assert local["size_tiers_setting"] == (
        '${join(",", [for tier in var.run_size_tiers : format("%d:%d/%d", tier.min_bytes, tier.cpu, tier.memory)])}'
    )
    assert local["environment"]["PIPELINE_ECS_SIZE_TIERS"] == "${local.size_tiers_setting}"
    assert ecs.outputs["size_tiers_setting"]["value"] == "${local.size_tiers_setting}"
    for environment in ENVIRONMENTS:
        env = stack()
        assert "run_cpu" not in env.variables and "run_memory" not in env.variables
        assert "run_cpu" not in tfvars(environment) and "run_memory" not in tfvars(environment)
        assert env.calls["ecs"]["run_size_tiers"] == "${var.run_size_tiers}"
        assert "default" not in env.variables["run_size_tiers"], "each environment sets its own in terraform.tfvars"
        # The environments pass the tiers as they are; the module's validations check them.
        assert env.variables["run_size_tiers"]["type"] == ecs.variables["run_size_tiers"]["type"]
        assert "validation" not in env.variables["run_size_tiers"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_size_tiers_of_each_environment(environment):
    """The tfvars tiers pass the variable's validations, render to the exact setting, and the
    pipeline parses that setting back into the same tiers; prod's first tier is the task size it
    always had (no more 2048/8192 task definitions overridden down to 1024/4096)."""
    from pipeline_project.defs.sizing import Tier, parse_tiers

    tiers = tfvars(environment)["run_size_tiers"]
    variable = module("modules/ecs").variables["run_size_tiers"]  # where the tiers are validated
    assert validation_failures(variable, "run_size_tiers", tiers) == []
    rendered = render_size_tiers(tiers)
    assert rendered == EXPECTED_SIZE_TIERS[environment]
    assert parse_tiers(rendered) == tuple(Tier(t["min_bytes"], t["cpu"], t["memory"]) for t in tiers)
    assert [t["min_bytes"] for t in tiers] == [0, 5 * GIB, 20 * GIB]
    assert (tiers[0]["cpu"], tiers[0]["memory"]) == {"dev": (1024, 4096), "prod": (2048, 8192)}[environment]


def test_module_default_tiers_are_the_pipelines_default():
    from pipeline_project.defs.sizing import parse_tiers
    from pipeline_project.settings import SETTINGS

    variable = module("modules/ecs").variables["run_size_tiers"]
    default = default_of(variable)
    assert validation_failures(variable, "run_size_tiers", default) == []
    assert parse_tiers(render_size_tiers(default)) == parse_tiers(SETTINGS["PIPELINE_ECS_SIZE_TIERS"].default)


BAD_TIERS = [
    ([], "must not be empty"),
    ([{"min_bytes": 1, "cpu": 1024, "memory": 4096}], "first tier must start at min_bytes 0"),
    ([{"min_bytes": 0, "cpu": 1024, "memory": 4096}, {"min_bytes": 0, "cpu": 2048, "memory": 8192}], "strictly"),
    ([{"min_bytes": 0, "cpu": 1024, "memory": 4096}, {"min_bytes": GIB, "cpu": 512, "memory": 4096}], "less CPU"),
    ([{"min_bytes": 0, "cpu": 2048, "memory": 8192}, {"min_bytes": GIB, "cpu": 2048, "memory": 6144}], "less CPU"),
    ([{"min_bytes": 0, "cpu": 3000, "memory": 8192}], "Fargate"),
    ([{"min_bytes": 0, "cpu": 1024, "memory": 9216}], "Fargate"),
    ([{"min_bytes": 0, "cpu": 8192, "memory": 18432}], "Fargate"),
]


@pytest.mark.parametrize(("tiers", "message"), BAD_TIERS)
def test_run_size_tiers_validation_refuses_what_the_pipeline_refuses(tiers, message):
    from pipeline_project.defs.sizing import SizeTiersError, parse_tiers

    variable = module("modules/ecs").variables["run_size_tiers"]
    failures = validation_failures(variable, "run_size_tiers", tiers)
    assert failures and all(message in f for f in failures), failures
    with pytest.raises(SizeTiersError):
        parse_tiers(render_size_tiers(tiers))


def test_run_size_tiers_validation_knows_fargates_sizes():
    """Every CPU/memory pair (memory in 512 MiB steps) is accepted by the Terraform validation
    exactly when the pipeline's Fargate table accepts it; min_bytes must be whole bytes."""
    from pipeline_project.defs.sizing import FARGATE_MEMORY

    variable = module("modules/ecs").variables["run_size_tiers"]
    for cpu in [128, *FARGATE_MEMORY, 3072, 32768]:
        for memory in range(512, 131072 + 1, 512):
            accepted = not validation_failures(
                variable, "run_size_tiers", [{"min_bytes": 0, "cpu": cpu, "memory": memory}]
            )
            assert accepted == (memory in FARGATE_MEMORY.get(cpu, ())), (cpu, memory)
    fractional = [{"min_bytes": 0, "cpu": 1024, "memory": 4096}, {"min_bytes": 1.5, "cpu": 1024, "memory": 4096}]
    assert validation_failures(variable, "run_size_tiers", fractional) == [
        "run_size_tiers: min_bytes must be a whole, non-negative number of bytes."
    ]


# --- Issue 14: nobody drives the deployment without the right to --------------------------------


def iam() -> Module:
    return module("modules/iam")


@pytest.mark.security
def test_each_dagster_role_gets_exactly_its_actions():
    """Per role, the IAM actions of all its inline policies (source documents merged) are exactly
    the calls its code makes; the daemon and the webserver each have their own document."""
    found = {role: {a for s in role_statements(iam(), role) for a in s["actions"]} for role in ROLE_ACTIONS}
    assert found == ROLE_ACTIONS
    policies = {b["role"]: b["policy"] for (t, _), b in iam().resources.items() if t == "aws_iam_role_policy"}
    assert policies["${aws_iam_role.daemon.id}"] == "${data.aws_iam_policy_document.run_launcher.json}"
    assert policies["${aws_iam_role.webserver.id}"] == "${data.aws_iam_policy_document.webserver.json}"
    # Shared documents, no copies: what each uses says what it may do.
    sources = {
        document: iam().data[("aws_iam_policy_document", document)].get("source_policy_documents", [])
        for document in ("run_launcher", "webserver", "launch_run_tasks", "run", "code_server")
    }
    assert sources == {
        "run_launcher": [
            "${data.aws_iam_policy_document.launch_run_tasks.json}",
            "${data.aws_iam_policy_document.db_login.json}",
        ],
        "webserver": [
            "${data.aws_iam_policy_document.stop_run_tasks.json}",
            "${data.aws_iam_policy_document.db_login.json}",
        ],
        "launch_run_tasks": ["${data.aws_iam_policy_document.stop_run_tasks.json}"],
        "run": ["${data.aws_iam_policy_document.db_login.json}"],
        "code_server": ["${data.aws_iam_policy_document.db_login.json}"],
    }


@pytest.mark.security
def test_daemon_and_webserver_statements():
    daemon = {s["sid"]: s for s in iam_document("run_launcher")}
    assert set(daemon) == {
        "RunTheRunWorkerTaskDefinition",
        "TagRunTasksAtLaunch",
        "WatchTasksOfTheCluster",
        "StopRunTasks",
        "ResolveTheRunTaskDefinition",
        "ReadRunLogsOnFailure",
        "PassOnlyTheRunRoles",
        "ConnectToTheDatabaseAsTheAppUser",
    }
    assert daemon["RunTheRunWorkerTaskDefinition"]["resources"] == ["${local.run_task_definitions}"]
    assert daemon["RunTheRunWorkerTaskDefinition"]["condition"] == CLUSTER_CONDITION
    # Tagging only at RunTask (no RegisterTaskDefinition any more), only tasks.
    assert daemon["TagRunTasksAtLaunch"]["resources"] == ["${local.cluster_tasks_arn}"]
    assert daemon["TagRunTasksAtLaunch"]["condition"] == [
        {"test": "StringEquals", "variable": "ecs:CreateAction", "values": ["RunTask"]}
    ]
    assert daemon["WatchTasksOfTheCluster"]["actions"] == ["ecs:DescribeTasks"]
    assert daemon["WatchTasksOfTheCluster"]["condition"] == CLUSTER_CONDITION
    assert daemon["StopRunTasks"]["actions"] == ["ecs:StopTask"]
    assert daemon["ResolveTheRunTaskDefinition"] == {
        "sid": "ResolveTheRunTaskDefinition",
        "effect": "Allow",
        "actions": ["ecs:DescribeTaskDefinition"],
        "resources": ["*"],
    }
    assert daemon["ReadRunLogsOnFailure"]["resources"] == ["${local.log_streams_arn}"]
    assert daemon["ConnectToTheDatabaseAsTheAppUser"] == DB_CONNECT_STATEMENT
    webserver = {s["sid"]: s for s in iam_document("webserver")}
    assert set(webserver) == {
        "WatchTasksOfTheCluster",
        "StopRunTasks",
        "ResolveTheRunTaskDefinition",
        "ListComputeLogs",
        "ReadComputeLogs",
        "ConnectToTheDatabaseAsTheAppUser",
        "DataBucketKmsKey",
    }
    for sid in (
        "WatchTasksOfTheCluster",
        "StopRunTasks",
        "ResolveTheRunTaskDefinition",
        "ConnectToTheDatabaseAsTheAppUser",
    ):
        assert webserver[sid] == daemon[sid], sid
    assert webserver["ListComputeLogs"]["condition"] == [
        {"test": "StringLike", "variable": "s3:prefix", "values": ["compute-logs/*"]}
    ]
    assert webserver["ReadComputeLogs"]["resources"] == ["${local.bucket_arn}/compute-logs/*"]
    assert webserver["DataBucketKmsKey"]["actions"] == ["kms:Decrypt"]


@pytest.mark.security
def test_stop_task_only_on_tasks_tagged_with_their_run():
    """Every StopTask grant in the stack is limited to the cluster's tasks that carry
    dagster/run_id: the launcher tags each run and step task with it, so no role can stop a
    service's task or the db-setup task."""
    found = []
    for mod, name, document in policy_documents():
        for statement in statements(document):
            if "ecs:StopTask" in statement.get("actions", []):
                found.append((mod.name, name))
                assert statement["actions"] == ["ecs:StopTask"], (name, statement)
                assert statement["resources"] == ["${local.cluster_tasks_arn}"], name
                assert statement["condition"] == CLUSTER_CONDITION + [RUN_TAGGED_TASK], name
    assert found == [("modules/iam", "stop_run_tasks")]  # shared by the three roles below
    holders = {role for role, found_ in task_roles().items() for s in found_ if "ecs:StopTask" in s["actions"]}
    assert holders == {"daemon", "webserver", "run"}


@pytest.mark.security
def test_every_dagster_role_logs_in_as_the_app_user_only():
    iam_ = iam()
    assert iam_.locals["db_app_user_arn"] == (
        "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:"
        "${var.db_resource_id}/${var.db_app_username}"
    )
    roles = task_roles()
    for role, found in roles.items():
        connect = [s for s in found if any(a.startswith("rds-db:") for a in s["actions"])]
        if role in ROLE_ACTIONS:
            assert connect == [DB_CONNECT_STATEMENT], role
        else:
            assert connect == [], role
    # No other policy of the stack grants a database login.
    for mod, name, document in policy_documents():
        for statement in statements(document):
            if any(a.startswith("rds-db:") for a in statement.get("actions", [])):
                assert (mod.name, statement) == ("modules/iam", DB_CONNECT_STATEMENT), name
    for environment in ENVIRONMENTS:
        env = stack()
        assert default_of(env.variables["db_app_username"]) == DB_APP_USERNAME
        assert "db_app_username" not in tfvars(environment)
        assert env.calls["iam"]["db_resource_id"] == "${module.rds.resource_id}"
        assert env.calls["iam"]["db_app_username"] == "${var.db_app_username}"
        assert env.calls["ecs"]["db_app_username"] == "${var.db_app_username}"
        assert env.calls["ecs"]["db_admin_username"] == "${module.rds.username}"
        assert "db_username" not in env.calls["ecs"]
    ecs = module("modules/ecs")
    for good in ("dagster_app", "app_2"):
        assert validation_failures(ecs.variables["db_app_username"], "db_app_username", good) == [], good
    for bad in ("Dagster", "dagster-app", "1app", "", "a" * 64):
        assert validation_failures(ecs.variables["db_app_username"], "db_app_username", bad), bad


@pytest.mark.security
def test_only_the_db_setup_task_reads_the_master_secret():
    roles = task_roles()
    readers = {
        role
        for role, found in roles.items()
        for s in found
        if any(a.startswith("secretsmanager:") for a in s["actions"])
    }
    assert readers == {"db_setup_execution"}
    # The main execution role: image pull and logs, nothing else.
    execution = {a for s in roles["execution"] for a in s["actions"]}
    assert execution == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    own = [s for s in roles["db_setup_execution"] if s["sid"] not in {x["sid"] for x in roles["execution"]}]
    assert own == [
        {
            "sid": "ReadDatabaseMasterPassword",
            "effect": "Allow",
            "actions": ["secretsmanager:GetSecretValue"],
            "resources": ["${var.db_master_secret_arn}"],
        },
        {
            "sid": "DecryptDatabaseMasterPassword",
            "effect": "Allow",
            "actions": ["kms:Decrypt"],
            "resources": ["${var.kms_key_arn}"],
            "condition": [
                {
                    "test": "StringEquals",
                    "variable": "kms:ViaService",
                    "values": ["secretsmanager.${local.region}.amazonaws.com"],
                }
            ],
        },
    ]
    role = iam().resources[("aws_iam_role", "db_setup_execution")]
    assert role["name"] == "${var.name}-db-setup-execution"
    assert iam().outputs["db_setup_execution_role_arn"]["value"] == "${aws_iam_role.db_setup_execution.arn}"


@pytest.mark.security
def test_db_setup_task_definition():
    local = ecs_locals()
    task = local["tasks"]["db-setup"]
    assert task == {
        "family": "${var.name}-db-setup",
        "execution_role": "${var.db_setup_execution_role_arn}",
        "environment": "${local.db_setup_environment}",
        "secrets": "${local.db_setup_secrets}",
        "container": "db-setup",
        "task_role_arn": None,
        "cpu": 256,
        "memory": 512,
        "ephemeral_storage": None,
        "port": None,
        "stop_timeout": 30,
        "command": ["pipeline-project", "db-setup"],
        "health_check": None,
    }
    assert local["db_setup_environment"] == {
        "DAGSTER_PG_HOST": "${var.db_host}",
        "DAGSTER_PG_PORT": "${tostring(var.db_port)}",
        "DAGSTER_PG_DB": "${var.db_name}",
        "DAGSTER_PG_USERNAME": "${var.db_app_username}",
        "DAGSTER_PG_ADMIN_USERNAME": "${var.db_admin_username}",
        "AWS_REGION": "${local.region}",
        "PIPELINE_LOG_FORMAT": "json",
        "PGSSLMODE": "require",
    }
    assert set(local["db_setup_environment"]) == DB_SETUP_ENVIRONMENT
    assert local["db_setup_secrets"] == {"DAGSTER_PG_ADMIN_PASSWORD": "${var.db_master_secret_arn}:password::"}
    assert set(local["db_setup_secrets"]) == DB_SETUP_SECRETS
    # The same image, read-only root filesystem and log group as every task (stream prefix db-setup).
    definitions = local["container_definitions"]
    assert "image = local.image" in code_of(definitions)
    assert "readonlyRootFilesystem = var.readonly_root_filesystem" in code_of(definitions)
    assert module("modules/ecs").variables["readonly_root_filesystem"]["default"] is True
    for key in DAGSTER_TASKS:
        assert local["tasks"][key]["execution_role"] == "${var.execution_role_arn}", key
    ecs = module("modules/ecs")
    assert ecs.outputs["db_setup_task_definition_arn"]["value"] == (
        '${aws_ecs_task_definition.this["db-setup"].arn_without_revision}'
    )
    env = stack()
    assert env.calls["ecs"]["db_setup_execution_role_arn"] == "${module.iam.db_setup_execution_role_arn}"
    assert env.calls["ecs"]["db_master_secret_arn"] == "${module.rds.master_user_secret_arn}"
    assert env.outputs["db_setup_task_definition_arn"]["value"] == "${module.ecs.db_setup_task_definition_arn}"
    assert env.outputs["db_setup_security_group_id"]["value"] == "${module.network.db_setup_security_group_id}"
    # The run-failure rule watches run workers and RUN_DATE tasks only.
    assert env.calls["observability"]["run_task_families"] == [
        "${local.run_task_family}",
        "${local.reprocess_task_family}",
    ]


@pytest.mark.security
def test_db_setup_security_group_reaches_postgres_and_the_endpoints_only():
    net = module("modules/network")
    groups = net.locals["task_security_groups"]
    assert set(groups) == {"webserver", "daemon", "code_server", "run_worker", "db_setup"}
    egress = {n: b for (t, n), b in net.resources.items() if t == "aws_vpc_security_group_egress_rule"}
    ingress = {n: b for (t, n), b in net.resources.items() if t == "aws_vpc_security_group_ingress_rule"}
    # Every task group: PostgreSQL, the interface endpoints and S3 (image layers) and nothing else,
    # but the webserver and daemon's gRPC to the code server.
    per_group = {
        name: rule
        for name, rule in egress.items()
        if rule["security_group_id"] == "${aws_security_group.task[each.key].id}"
    }
    assert set(per_group) == {"task_to_rds", "task_to_endpoints", "task_to_s3", "task_to_aws_apis_via_nat"}
    assert {name: rule["for_each"] for name, rule in per_group.items()} == {
        "task_to_rds": "${local.task_security_groups}",
        "task_to_s3": "${local.task_security_groups}",
        "task_to_endpoints": "${local.nat_instance ? {} : local.task_security_groups}",
        "task_to_aws_apis_via_nat": "${local.nat_instance ? local.task_security_groups : {}}",
    }
    assert egress["to_code_server"]["for_each"] == '${toset(["webserver", "daemon"])}'
    assert not [n for n, b in ingress.items() if "db_setup" in str(b)], "nothing connects to db-setup"
    assert net.outputs["db_setup_security_group_id"]["value"] == '${aws_security_group.task["db_setup"].id}'


@pytest.mark.security
def test_deploy_role_passes_the_db_setup_execution_role():
    task_roles_ = iam().locals["task_roles"]
    assert "${aws_iam_role.db_setup_execution.arn}" in task_roles_
    assert task_roles_ == [
        "${aws_iam_role.execution.arn}",
        "${aws_iam_role.db_setup_execution.arn}",
        "${aws_iam_role.webserver.arn}",
        "${aws_iam_role.daemon.arn}",
        "${aws_iam_role.code_server.arn}",
        "${aws_iam_role.run.arn}",
        "${aws_iam_role.reprocess.arn}",
    ]
    (pass_roles,) = [s for s in iam_document("deploy") if s["sid"] == "PassTheTaskRoles"]
    assert pass_roles["resources"] == "${local.task_roles}"
    assert pass_roles["condition"] == [
        {"test": "StringEquals", "variable": "iam:PassedToService", "values": ["ecs-tasks.amazonaws.com"]}
    ]
    # The deploy role may register db-setup revisions like the others (<name>-* families).
    (tag,) = [s for s in iam_document("deploy") if s["sid"] == "TagNewTaskDefinitions"]
    assert tag["resources"] == ["${local.ecs_arn}:task-definition/${var.name}-*:*"]


@pytest.mark.security
def test_interface_endpoints_serve_only_this_account():
    net = module("modules/network")
    endpoint = net.resources[("aws_vpc_endpoint", "interface")]
    assert endpoint["policy"] == "${data.aws_iam_policy_document.interface_endpoint.json}"
    assert endpoint["subnet_ids"] == "${aws_subnet.private[*].id}"
    assert statements(net.data[("aws_iam_policy_document", "interface_endpoint")]) == [INTERFACE_ENDPOINT_STATEMENT]
    assert net.locals["account_id"] == "${data.aws_caller_identity.current.account_id}"
    # Every endpoint of the VPC has a policy; S3's gateway keeps its own.
    endpoints = {n: b for (t, n), b in net.resources.items() if t == "aws_vpc_endpoint"}
    assert set(endpoints) == {"s3", "interface"}
    assert endpoints["s3"]["policy"] == "${data.aws_iam_policy_document.s3_endpoint.json}"
    for mod in all_modules().values():
        if mod.name != "modules/network":
            assert not [n for (t, n) in mod.resources if t == "aws_vpc_endpoint"], mod.name


@pytest.mark.security
def test_ui_authentication_is_required_in_every_environment():
    alb = module("modules/alb")
    for variable in ("oidc", "oidc_client_secret"):
        body = alb.variables[variable]
        assert "default" not in body, variable
        assert literal(body["nullable"]) is False, variable
    assert literal(alb.variables["oidc_client_secret"]["sensitive"]) is True
    (authenticate, forward) = alb.resources[("aws_lb_listener_rule", "webserver")]["action"]
    assert authenticate["type"] == "authenticate-oidc" and authenticate["order"] == 1
    oidc = authenticate["authenticate_oidc"][0]
    assert oidc["on_unauthenticated_request"] == "authenticate"
    assert oidc["client_secret"] == "${var.oidc_client_secret}"
    for field_ in ("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint", "client_id"):
        assert oidc[field_] == f"${{var.oidc.{field_}}}", field_
    assert forward["type"] == "forward" and forward["order"] == 2
    https = {"issuer": "https://idp", "authorization_endpoint": "https://idp/a", "token_endpoint": "https://idp/t"}
    good = {**https, "user_info_endpoint": "https://idp/u", "client_id": "c"}
    assert validation_failures(alb.variables["oidc"], "oidc", good) == []
    assert validation_failures(alb.variables["oidc"], "oidc", {**good, "token_endpoint": "http://idp/t"})
    assert validation_failures(alb.variables["oidc_client_secret"], "oidc_client_secret", "")
    for environment in ENVIRONMENTS:
        env = stack()
        for mod in (env, module(f"environments/{environment}")):
            for variable in ("alb_oidc", "alb_oidc_client_secret"):
                assert "default" not in mod.variables[variable], (mod.name, variable)
                assert literal(mod.variables[variable]["nullable"]) is False, (mod.name, variable)
            assert literal(mod.variables["alb_oidc_client_secret"]["sensitive"]) is True
        for variable in ("alb_oidc", "alb_oidc_client_secret"):
            assert variable not in tfvars(environment), "a plan-time value"
            assert root_call(environment)[variable] == f"${{var.{variable}}}"
        assert env.calls["alb"]["oidc"] == "${var.alb_oidc}"
        assert env.calls["alb"]["oidc_client_secret"] == "${var.alb_oidc_client_secret}"
        header = (TERRAFORM / "environments" / environment / "main.tf").read_text().split("\n\n")[0]
        assert "alb_oidc" in header and "alb_oidc_client_secret" in header and "plan time" in header


@pytest.mark.security
def test_listener_rule_ignores_only_the_forward_weights():
    """ECS moves the forward weights at every blue/green deployment; everything else of the rule,
    the authentication first, stays under Terraform. The provider lists the actions by order, so
    action[1] is the forward action."""
    rule = module("modules/alb").resources[("aws_lb_listener_rule", "webserver")]
    assert rule["lifecycle"] == [{"ignore_changes": ["${action[1].forward}"]}]
    assert [a["type"] for a in sorted(rule["action"], key=lambda a: a["order"])] == ["authenticate-oidc", "forward"]
    # No ignore_changes anywhere covers a whole action list (or anything of an authentication).
    for mod in all_modules().values():
        for (rtype, rname), body in mod.resources.items():
            for lifecycle in body.get("lifecycle", []):
                for path in lifecycle.get("ignore_changes", []):
                    assert path not in ("${action}", "action", "${default_action}"), (mod.name, rtype, rname)


OPERATOR_CIDRS_GOOD = [
    ["10.200.0.0/16"],
    ["192.0.2.0/24", "198.51.100.17/32"],
    ["172.16.0.0/16", "10.8.0.0/20"],
]
CIDR_MESSAGE, WIDTH_MESSAGE = "CIDR notation", "never 0.0.0.0/0, and every prefix must be /16 or longer"
# Each value with exactly the validation messages Terraform would report for it.
OPERATOR_CIDRS_BAD = [
    ([], {"at least one operator network"}),
    (["0.0.0.0/0"], {WIDTH_MESSAGE}),
    (["10.0.0.0/8"], {WIDTH_MESSAGE}),
    (["10.200.0.0/15"], {WIDTH_MESSAGE}),
    (["10.200.0.0/16", "0.0.0.0/0"], {WIDTH_MESSAGE}),
    (["10.200.0.1/16"], {CIDR_MESSAGE}),
    (["300.1.0.0/16"], {CIDR_MESSAGE}),
    (["2001:db8::/48"], {CIDR_MESSAGE}),
    (["10.200.0.0"], {CIDR_MESSAGE, WIDTH_MESSAGE}),
    (["vpn"], {CIDR_MESSAGE, WIDTH_MESSAGE}),
]


@pytest.mark.security
@pytest.mark.parametrize("cidrs", OPERATOR_CIDRS_GOOD)
def test_operator_cidrs_accepts_operator_networks(cidrs):
    variable = module("modules/network").variables["operator_cidrs"]
    assert validation_failures(variable, "operator_cidrs", cidrs) == []


@pytest.mark.security
@pytest.mark.parametrize(("cidrs", "messages"), OPERATOR_CIDRS_BAD)
def test_operator_cidrs_refuses_anything_wider(cidrs, messages):
    variable = module("modules/network").variables["operator_cidrs"]
    failures = validation_failures(variable, "operator_cidrs", cidrs)
    assert {m for m in messages for f in failures if m in f} == messages, failures
    assert len(failures) == len(messages), failures


@pytest.mark.security
def test_operator_cidrs_replace_alb_ingress_cidrs():
    net = module("modules/network")
    variable = net.variables["operator_cidrs"]
    assert "default" not in variable and literal(variable["nullable"]) is False
    assert "alb_ingress_cidrs" not in net.variables
    for rule in ("alb_https", "alb_http_redirect"):
        body = net.resources[("aws_vpc_security_group_ingress_rule", rule)]
        assert body["for_each"] == "${toset(var.operator_cidrs)}"
        assert body["cidr_ipv4"] == "${each.value}"
        assert body["security_group_id"] == "${aws_security_group.alb.id}"
    for environment in ENVIRONMENTS:
        env = stack()
        assert "alb_ingress_cidrs" not in env.variables and "alb_ingress_cidrs" not in tfvars(environment)
        assert "default" not in env.variables["operator_cidrs"]
        assert env.calls["network"]["operator_cidrs"] == "${var.operator_cidrs}"
        cidrs = tfvars(environment)["operator_cidrs"]
        assert validation_failures(variable, "operator_cidrs", cidrs) == [], (environment, cidrs)
        text = (TERRAFORM / "environments" / environment / "main.tf").read_text()
        comment = text[: text.index("operator_cidrs =")].rsplit("\n\n", 1)[-1]
        assert "Placeholder" in comment and "replace" in comment, comment


@pytest.mark.security
def test_task_subnets_have_no_route_to_the_internet():
    """Tasks and RDS live in the private subnets, whose route tables have no default route (but in
    dev's lean profile, to its NAT instance); only the ALB subnets route to the NAT gateway (for the
    identity provider), and only the public subnets (the NAT gateways') to the internet gateway."""
    net = module("modules/network")
    routes = {n: b for (t, n), b in net.resources.items() if t == "aws_route"}
    assert routes == {
        "alb_nat": {
            "count": "${local.az_count}",
            "route_table_id": "${aws_route_table.alb[count.index].id}",
            "destination_cidr_block": "0.0.0.0/0",
            "nat_gateway_id": (
                "${local.nat_instance ? null : aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id}"
            ),
            "network_interface_id": "${local.nat_instance ? aws_instance.nat[0].primary_network_interface_id : null}",
        },
        "private_nat": {
            "count": "${local.nat_instance ? local.az_count : 0}",
            "route_table_id": "${aws_route_table.private[count.index].id}",
            "destination_cidr_block": "0.0.0.0/0",
            "network_interface_id": "${aws_instance.nat[0].primary_network_interface_id}",
        },
        "public_internet": {
            "route_table_id": "${aws_route_table.public.id}",
            "destination_cidr_block": "0.0.0.0/0",
            "gateway_id": "${aws_internet_gateway.this.id}",
        },
    }
    tables = {n: b for (t, n), b in net.resources.items() if t == "aws_route_table"}
    assert set(tables) == {"private", "alb", "public"}
    assert all("route" not in body for body in tables.values()), "no inline routes"
    associations = {n: b for (t, n), b in net.resources.items() if t == "aws_route_table_association"}
    assert associations["private"]["subnet_id"] == "${aws_subnet.private[count.index].id}"
    assert associations["private"]["route_table_id"] == "${aws_route_table.private[count.index].id}"
    assert associations["alb"]["subnet_id"] == "${aws_subnet.alb[count.index].id}"
    assert associations["alb"]["route_table_id"] == "${aws_route_table.alb[count.index].id}"
    assert associations["public"]["subnet_id"] == "${aws_subnet.public[count.index].id}"
    # Nothing else in the stack adds a route.
    for mod in all_modules().values():
        if mod.name != "modules/network":
            assert not [n for (t, n) in mod.resources if t in ("aws_route", "aws_route_table")], mod.name
    # S3's gateway endpoint is on the task route tables; NAT is always there, never for the tasks.
    assert net.resources[("aws_vpc_endpoint", "s3")]["route_table_ids"] == "${aws_route_table.private[*].id}"
    assert net.locals["nat_count"] == "${local.nat_instance ? 0 : (var.single_nat_gateway ? 1 : local.az_count)}"
    assert net.locals["nat_instance"] == "${var.nat_instance_type != null}"
    assert tfvars("prod")["nat_instance_type"] is None, "prod's tasks have no route out of the VPC"
    nat = net.resources[("aws_instance", "nat")]
    assert nat["subnet_id"] == "${aws_subnet.public[0].id}" and literal(nat["source_dest_check"]) is False
    assert nat["vpc_security_group_ids"] == ["${aws_security_group.nat.id}"]
    assert nat["metadata_options"][0]["http_tokens"] == "required"
    assert nat["maintenance_options"][0]["auto_recovery"] == "default"
    assert literal(nat["root_block_device"][0]["encrypted"]) is True
    assert nat["root_block_device"][0]["kms_key_id"] == "${var.kms_key_arn}"
    assert "iam_instance_profile" not in nat and "key_name" not in nat and "associate_public_ip_address" not in nat
    assert net.resources[("aws_nat_gateway", "this")]["subnet_id"] == "${aws_subnet.public[count.index].id}"
    # Subnet layout: tasks /20s at the start of the VPC, ALB and NAT /24s near its end.
    subnets = {n: b["cidr_block"] for (t, n), b in net.resources.items() if t == "aws_subnet"}
    assert subnets == {
        "private": "${cidrsubnet(var.cidr_block, 4, count.index)}",
        "alb": "${cidrsubnet(var.cidr_block, 8, 224 + count.index)}",
        "public": "${cidrsubnet(var.cidr_block, 8, 240 + count.index)}",
    }
    assert net.outputs["alb_subnet_ids"]["value"] == "${aws_subnet.alb[*].id}"
    assert net.outputs["private_subnet_ids"]["value"] == "${aws_subnet.private[*].id}"
    for environment in ENVIRONMENTS:
        calls = stack().calls
        assert calls["alb"]["subnet_ids"] == "${module.network.alb_subnet_ids}"
        assert calls["rds"]["subnet_ids"] == "${module.network.private_subnet_ids}"
        assert calls["ecs"]["private_subnet_ids"] == "${module.network.private_subnet_ids}"
        assert calls["scheduler"]["subnet_ids"] == "${module.network.private_subnet_ids}"
        assert "enable_nat_gateway" not in calls["network"]
        assert "enable_nat_gateway" not in stack().variables
        assert "enable_nat_gateway" not in tfvars(environment)


@pytest.mark.security
def test_task_security_groups_have_no_internet_egress():
    net = module("modules/network")
    rules = [(n, b) for (t, n), b in net.resources.items() if t == "aws_vpc_security_group_egress_rule"]
    for name, body in rules:
        if "aws_security_group.task" in body["security_group_id"] and name != "task_to_aws_apis_via_nat":
            assert "cidr_ipv4" not in body and "cidr_ipv6" not in body, name
            assert body.get("referenced_security_group_id") or body.get("prefix_list_id"), name
    assert "task_to_internet" not in {n for n, _ in rules}
    # The lean profile's HTTPS to AWS APIs exists only with its NAT instance, which prod has not.
    (via_nat,) = [b for n, b in rules if n == "task_to_aws_apis_via_nat"]
    assert via_nat["for_each"] == "${local.nat_instance ? local.task_security_groups : {}}"
    assert (via_nat["ip_protocol"], via_nat["from_port"], via_nat["to_port"]) == ("tcp", 443, 443)
    assert tfvars("prod")["nat_instance_type"] is None


@pytest.mark.security
def test_key_policy_binds_every_service_to_this_environment():
    """Each service principal of the environment key may use it only for this environment's
    resources: CloudWatch Logs for its log groups (encryption context), CloudWatch alarms for its
    alarms and topics, EventBridge for its topics (SNS's encryption context: the SNS guide says
    aws:SourceArn/aws:SourceAccount are not supported for EventBridge-to-encrypted-topic delivery)
    and for the arrivals rule's queues."""
    kms = module("modules/kms")
    found = {s["sid"]: s for s in statements(kms.data[("aws_iam_policy_document", "key")])}
    assert set(found) == {
        "AccountPrincipalsThroughIam",
        "CloudWatchLogsForThisEnvironment",
        "EnvironmentAlarmsToEncryptedTopics",
        "EnvironmentRulesToEncryptedTopics",
        "ArrivalsRuleToEncryptedQueues",
    }
    assert kms.locals["alarms_arn"] == (
        "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"
    )
    assert kms.locals["topics_arn"] == "arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.name}-*"
    logs = found["CloudWatchLogsForThisEnvironment"]
    assert logs["principals"] == [{"type": "Service", "identifiers": ["logs.${local.region}.amazonaws.com"]}]
    assert logs["condition"] == [
        {
            "test": "ArnLike",
            "variable": "kms:EncryptionContext:aws:logs:arn",
            "values": [
                "${local.logs_arn}:/ecs/${var.name}",
                "${local.logs_arn}:/ecs/${var.name}/*",
                "${local.logs_arn}:/vpc/${var.name}/*",
                "${local.logs_arn}:/aws/rds/instance/${var.name}-*",
            ],
        }
    ]
    topic_context = {
        "test": "ArnLike",
        "variable": "kms:EncryptionContext:aws:sns:topicArn",
        "values": ["${local.topics_arn}"],
    }
    alarms = found["EnvironmentAlarmsToEncryptedTopics"]
    assert alarms["principals"] == [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}]
    assert alarms["actions"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert alarms["condition"] == [
        {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["${local.account_id}"]},
        {"test": "ArnLike", "variable": "aws:SourceArn", "values": ["${local.alarms_arn}"]},
        topic_context,
    ]
    rules = found["EnvironmentRulesToEncryptedTopics"]
    assert rules["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert rules["actions"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert rules["condition"] == [topic_context]
    # No service statement is left with only an account condition.
    for sid, statement in found.items():
        if statement["principals"][0]["type"] == "Service":
            variables = {c["variable"] for c in statement["condition"]}
            assert variables - {"aws:SourceAccount"}, sid
    # The names the patterns rely on.
    assert module("modules/observability").resources[("aws_sns_topic", "alarms")]["name"] == "${var.name}-alarms"
    for mod in all_modules().values():
        for (rtype, rname), body in mod.resources.items():
            if rtype == "aws_cloudwatch_metric_alarm":
                assert body["alarm_name"].startswith("${var.name}-"), (mod.name, rname)
