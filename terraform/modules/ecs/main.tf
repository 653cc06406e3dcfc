# The Dagster deployment on ECS Fargate: one cluster, three long-running services (webserver
# behind the ALB with blue/green deployments, daemon, gRPC code server found through Cloud Map),
# the run-worker task definition the EcsRunLauncher starts once per run, and the RUN_DATE entry
# (pipeline-project run) for scheduled or manual reprocessing, and the one-off db-setup task an
# administrator starts to create the database's app user. Every task runs in private subnets
# without a public IP, from the same image. No service or run task gets a secret: Dagster logs in
# to PostgreSQL with IAM authentication tokens minted from its task role.

data "aws_region" "current" {}

locals {
  region       = data.aws_region.current.region
  image        = "${var.image_repository_url}:${var.image_tag}"
  dagster_home = "/opt/dagster/dagster_home"
  workspace    = "${local.dagster_home}/workspace.yaml"

  # Run sizes: the run-worker and RUN_DATE task definitions get the first tier's size (a run
  # without size tags, a day of unknown size); the sensor and the schedule tag each run with the
  # tier of its day's input, rendered for the pipeline as MIN_BYTES:CPU/MEMORY,... (plain bytes).
  first_size_tier    = var.run_size_tiers[0]
  size_tiers_setting = join(",", [for tier in var.run_size_tiers : format("%d:%d/%d", tier.min_bytes, tier.cpu, tier.memory)])

  # Plain environment of every container but db-setup's. The names are shared with
  # deploy/dagster.yaml, the Dockerfile and the pipeline. DAGSTER_PG_USERNAME is the app user
  # (IAM database authentication); there is no database password anywhere.
  # PIPELINE_STEP_EXECUTOR=ecs: a sharded day's steps run as Fargate tasks of the run-worker task
  # definition, started by the run worker (the pipeline's default is local processes).
  environment = {
    PIPELINE_STORAGE_URL        = "s3://${var.data_bucket_name}"
    PIPELINE_LOG_FORMAT         = "json"
    PIPELINE_ENVIRONMENT        = var.environment
    PIPELINE_ALERT_TOPIC_ARN    = var.alert_topic_arn
    PIPELINE_STEP_EXECUTOR      = "ecs"
    PIPELINE_SHARD_BYTES        = tostring(var.shard_bytes)
    PIPELINE_ARRIVALS_QUEUE_URL = var.arrivals_queue_url
    PIPELINE_ECS_SIZE_TIERS     = local.size_tiers_setting
    DAGSTER_PG_HOST             = var.db_host
    DAGSTER_PG_PORT             = tostring(var.db_port)
    DAGSTER_PG_DB               = var.db_name
    DAGSTER_PG_USERNAME         = var.db_app_username
    DAGSTER_COMPUTE_LOG_BUCKET  = var.data_bucket_name
    DAGSTER_RUN_TASK_DEFINITION = var.run_task_family
    DAGSTER_ECS_CLUSTER         = aws_ecs_cluster.this.name
    DAGSTER_RUN_SUBNETS         = join(",", var.private_subnet_ids)
    DAGSTER_RUN_SECURITY_GROUP  = var.run_security_group_id
    AWS_REGION                  = local.region
    # libpq never falls back to a plain connection: IAM tokens cross only over TLS.
    PGSSLMODE = "require"
  }

  # The db-setup task connects as the master user to create the app user (and grant it rds_iam):
  # it gets the database coordinates, both user names and nothing of the pipeline's settings.
  db_setup_environment = {
    DAGSTER_PG_HOST           = var.db_host
    DAGSTER_PG_PORT           = tostring(var.db_port)
    DAGSTER_PG_DB             = var.db_name
    DAGSTER_PG_USERNAME       = var.db_app_username
    DAGSTER_PG_ADMIN_USERNAME = var.db_admin_username
    AWS_REGION                = local.region
    PIPELINE_LOG_FORMAT       = "json"
    PGSSLMODE                 = "require"
  }

  # Its only secret, injected by ECS at task start from the RDS-managed master secret (JSON key
  # "password") through its own execution role; never in the plain environment.
  db_setup_secrets = {
    DAGSTER_PG_ADMIN_PASSWORD = "${var.db_master_secret_arn}:password::"
  }

  # One entry per task definition. container is the container name (the EcsRunLauncher's
  # container_name is "run"; the RUN_DATE entry uses the same name so its failures raise the same
  # alarm). A null command keeps the image's default (run workers get theirs from the launcher).
  # A null task role: the task makes no AWS call.
  tasks = {
    webserver = {
      family            = "${var.name}-webserver"
      execution_role    = var.execution_role_arn
      environment       = local.environment
      secrets           = {}
      container         = "webserver"
      task_role_arn     = var.webserver_task_role_arn
      cpu               = var.webserver_cpu
      memory            = var.webserver_memory
      ephemeral_storage = null
      port              = var.webserver_port
      stop_timeout      = 30
      command           = ["dagster-webserver", "-h", "0.0.0.0", "-p", tostring(var.webserver_port), "-w", local.workspace, "--log-format", "json"]
      health_check      = "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.webserver_port}/server_info', timeout=5)\""
    }
    daemon = {
      family            = "${var.name}-daemon"
      execution_role    = var.execution_role_arn
      environment       = local.environment
      secrets           = {}
      container         = "daemon"
      task_role_arn     = var.daemon_task_role_arn
      cpu               = var.daemon_cpu
      memory            = var.daemon_memory
      ephemeral_storage = null
      port              = null
      stop_timeout      = 120
      command           = ["dagster-daemon", "run", "-w", local.workspace, "--log-format", "json"]
      health_check      = "dagster-daemon liveness-check"
    }
    "code-server" = {
      family            = "${var.name}-code-server"
      execution_role    = var.execution_role_arn
      environment       = local.environment
      secrets           = {}
      container         = "code-server"
      task_role_arn     = var.code_server_task_role_arn
      cpu               = var.code_server_cpu
      memory            = var.code_server_memory
      ephemeral_storage = null
      port              = var.code_server_port
      stop_timeout      = 60
      command           = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", tostring(var.code_server_port), "-m", "pipeline_project.definitions", "--location-name", "pipeline_project", "--log-format", "json"]
      health_check      = "dagster api grpc-health-check -p ${var.code_server_port}"
    }
    run = {
      family            = var.run_task_family
      execution_role    = var.execution_role_arn
      environment       = local.environment
      secrets           = {}
      container         = "run"
      task_role_arn     = var.run_task_role_arn
      cpu               = local.first_size_tier.cpu
      memory            = local.first_size_tier.memory
      ephemeral_storage = var.run_ephemeral_storage_gib
      port              = null
      stop_timeout      = 120
      command           = null
      health_check      = null
    }
    reprocess = {
      family            = var.reprocess_task_family
      execution_role    = var.execution_role_arn
      environment       = local.environment
      secrets           = {}
      container         = "run"
      task_role_arn     = var.reprocess_task_role_arn
      cpu               = local.first_size_tier.cpu
      memory            = local.first_size_tier.memory
      ephemeral_storage = var.run_ephemeral_storage_gib
      port              = null
      stop_timeout      = 120
      command           = ["pipeline-project", "run"]
      health_check      = null
    }
    "db-setup" = {
      family            = "${var.name}-db-setup"
      execution_role    = var.db_setup_execution_role_arn
      environment       = local.db_setup_environment
      secrets           = local.db_setup_secrets
      container         = "db-setup"
      task_role_arn     = null
      cpu               = 256
      memory            = 512
      ephemeral_storage = null
      port              = null
      stop_timeout      = 30
      command           = ["pipeline-project", "db-setup"]
      health_check      = null
    }
  }

  # The three long-running services, generated from one definition (aws_ecs_service.this): the
  # webserver behind the ALB with blue/green deployments; the daemon as a single copy (the old task
  # stops before the new one starts); the code server, two copies at once while it rolls, found
  # through Cloud Map. A null percent keeps ECS's default (100 and 200).
  services = {
    webserver = {
      task                          = "webserver"
      desired_count                 = var.webserver_desired_count
      security_group_id             = var.webserver_security_group_id
      blue_green                    = true
      discoverable                  = false
      minimum_healthy_percent       = null
      maximum_percent               = null
      availability_zone_rebalancing = null
    }
    daemon = {
      task                          = "daemon"
      desired_count                 = 1
      security_group_id             = var.daemon_security_group_id
      blue_green                    = false
      discoverable                  = false
      minimum_healthy_percent       = 0
      maximum_percent               = 100
      availability_zone_rebalancing = null
    }
    code_server = {
      task                          = "code-server"
      desired_count                 = var.code_server_desired_count
      security_group_id             = var.code_server_security_group_id
      blue_green                    = false
      discoverable                  = true
      minimum_healthy_percent       = 100
      maximum_percent               = 200
      availability_zone_rebalancing = "ENABLED"
    }
  }

  # Writable scratch space under a read-only root filesystem, each path a VOLUME of the image (so
  # ECS copies the image's content and owner into the task's bind mount): /tmp (downloads, Parquet
  # copies, compute-log staging), DAGSTER_HOME (the entrypoint completes dagster.yaml there) and
  # the instance's local artifact storage.
  scratch_volumes = {
    tmp               = "/tmp"
    "dagster-home"    = local.dagster_home
    "dagster-storage" = "${local.dagster_home}/storage"
  }

  container_definitions = {
    for key, task in local.tasks : key => [
      merge(
        {
          name                   = task.container
          image                  = local.image
          essential              = true
          environment            = [for name in sort(keys(task.environment)) : { name = name, value = task.environment[name] }]
          secrets                = [for name in sort(keys(task.secrets)) : { name = name, valueFrom = task.secrets[name] }]
          portMappings           = task.port == null ? [] : [{ containerPort = task.port, protocol = "tcp" }]
          readonlyRootFilesystem = var.readonly_root_filesystem
          mountPoints            = [for volume, path in local.scratch_volumes : { sourceVolume = volume, containerPath = path, readOnly = false }]
          volumesFrom            = []
          stopTimeout            = task.stop_timeout
          linuxParameters        = { initProcessEnabled = true }
          ulimits                = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
          logConfiguration = {
            logDriver = "awslogs"
            options = {
              "awslogs-group"         = var.log_group_name
              "awslogs-region"        = local.region
              "awslogs-stream-prefix" = task.container
              "mode"                  = "non-blocking"
              "max-buffer-size"       = "25m"
            }
          }
        },
        # Only where the task has them: a command override and a container health check.
        {
          for attribute, value in {
            command = task.command
            healthCheck = task.health_check == null ? null : {
              command     = ["CMD-SHELL", "${task.health_check} || exit 1"]
              interval    = 30
              timeout     = 10
              retries     = 3
              startPeriod = 120
            }
          } : attribute => value if value != null
        },
      )
    ]
  }
}

# ---------------------------------------------------------------------------------------------
# Cluster.
# ---------------------------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  #checkov:skip=CKV_AWS_65:Container Insights is per environment (var.container_insights): enhanced in prod, disabled in dev, where it would cost a quarter of the lean profile.
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = var.log_group_name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  # Default for tasks started without a launch type or strategy of their own.
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = var.default_fargate_weight
    base              = 0
  }

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = var.default_fargate_spot_weight
  }
}

# ---------------------------------------------------------------------------------------------
# Service discovery: code-server.pipeline.local:4000 (the gRPC address in deploy/workspace.yaml).
# ---------------------------------------------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.service_discovery_namespace
  description = "Private names of ${var.name} services"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "code_server" {
  name = "code-server"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = 10
      type = "A"
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

# ---------------------------------------------------------------------------------------------
# Task definitions.
# ---------------------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  for_each = local.tasks

  family                   = each.value.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = each.value.execution_role
  task_role_arn            = each.value.task_role_arn
  container_definitions    = jsonencode(local.container_definitions[each.key])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  dynamic "ephemeral_storage" {
    for_each = each.value.ephemeral_storage == null ? [] : [each.value.ephemeral_storage]

    content {
      size_in_gib = ephemeral_storage.value
    }
  }

  dynamic "volume" {
    for_each = local.scratch_volumes

    content {
      name = volume.key
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Services.
# ---------------------------------------------------------------------------------------------

resource "aws_ecs_service" "this" {
  for_each = local.services

  name                               = "${var.name}-${each.value.task}"
  cluster                            = aws_ecs_cluster.this.arn
  task_definition                    = aws_ecs_task_definition.this[each.value.task].arn
  desired_count                      = each.value.desired_count
  platform_version                   = "LATEST"
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  health_check_grace_period_seconds  = each.value.blue_green ? 180 : null
  deployment_minimum_healthy_percent = each.value.minimum_healthy_percent
  deployment_maximum_percent         = each.value.maximum_percent
  availability_zone_rebalancing      = each.value.availability_zone_rebalancing
  wait_for_steady_state              = var.wait_for_steady_state

  capacity_provider_strategy {
    capacity_provider = var.service_capacity_provider
    weight            = 1
  }

  deployment_controller {
    type = "ECS"
  }

  # Blue/green (the webserver): the new revision starts on the idle target group, ECS moves the
  # production listener rule's weights to it, bakes, then retires the old tasks.
  deployment_configuration {
    strategy             = each.value.blue_green ? "BLUE_GREEN" : "ROLLING"
    bake_time_in_minutes = each.value.blue_green ? var.blue_green_bake_time_minutes : null
  }

  # A failed deployment rolls back to the last good revision.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = each.value.blue_green ? [each.value.task] : []

    content {
      target_group_arn = var.blue_target_group_arn
      container_name   = load_balancer.value
      container_port   = var.webserver_port

      advanced_configuration {
        alternate_target_group_arn = var.green_target_group_arn
        production_listener_rule   = var.production_listener_rule_arn
        role_arn                   = var.ecs_infrastructure_role_arn
      }
    }
  }

  dynamic "service_registries" {
    for_each = each.value.discoverable ? [aws_service_discovery_service.code_server.arn] : []

    content {
      registry_arn = service_registries.value
    }
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [each.value.security_group_id]
    assign_public_ip = false
  }

  # After each blue/green deployment the webserver serves from the other target group; Terraform
  # must not swap it back.
  lifecycle {
    ignore_changes = [load_balancer]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

moved {
  from = aws_ecs_service.webserver
  to   = aws_ecs_service.this["webserver"]
}

moved {
  from = aws_ecs_service.daemon
  to   = aws_ecs_service.this["daemon"]
}

moved {
  from = aws_ecs_service.code_server
  to   = aws_ecs_service.this["code_server"]
}
