# syntax=docker/dockerfile:1
#
# One image for every role of the deployment (see docs/deploy.md):
#   webserver    dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/dagster_home/workspace.yaml --log-format json
#   daemon       dagster-daemon run -w /opt/dagster/dagster_home/workspace.yaml --log-format json
#   code server  dagster code-server start -h 0.0.0.0 -p 4000 -m pipeline_project.definitions --location-name pipeline_project --log-format json
#   run worker   the command the EcsRunLauncher gives it (dagster api execute_run ...)
#   RUN_DATE     pipeline-project run  (the default CMD; yesterday UTC when RUN_DATE is absent)
# Every command goes through deploy/entrypoint.sh, which completes $DAGSTER_HOME/dagster.yaml from
# the task's environment (the run tasks' subnets and security group) and then execs the command.
#
# Base image: python:3.11-slim-bookworm pinned by digest (both stages use the same one), so a
# rebuild is reproducible and a moved tag cannot change what ships. Dependabot (docker ecosystem,
# .github/dependabot.yml) proposes each new digest of the tag.
#
# pipeline_project_tests/deploy/test_image.py replays the builder stage's COPY and RUN lines
# without Docker, so keep them plain: one command per line or joined with &&.

FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS builder

# A C compiler for the project's compiled modules (setup.py: the JSON lines scanner and the row
# rules); the runtime stage takes only the built venv, so no compiler ships. The versions are those
# of the pinned base image's Debian release; pinning them too would break the build at each point
# release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from the files that define them only, so this layer is reused until
# pyproject.toml or constraints.txt change. With no package folder yet, `.` builds an empty
# pipeline-project distribution whose only effect is to pull the runtime dependencies (not the
# dev extra), each pinned by constraints.txt.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install --no-cache-dir -c constraints.txt .

# Then the project itself, non-editable, with nothing else changing; check the environment is
# consistent, and drop pip and setuptools: nothing at runtime installs packages, and scanners
# flag the old setuptools that `python -m venv` bundles with Python 3.11.
COPY setup.py ./
COPY pipeline_project ./pipeline_project
RUN pip install --no-cache-dir --no-deps --force-reinstall -c constraints.txt . \
    && pip check \
    && pip uninstall --yes pip setuptools


FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS runtime

LABEL org.opencontainers.image.title="pipeline-project" \
      org.opencontainers.image.description="Dagster daily batch pipeline: webserver, daemon, code server, run worker and the RUN_DATE entry" \
      org.opencontainers.image.licenses="Proprietary"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    PIPELINE_LOG_FORMAT=json

# A fixed non-root uid/gid (10001) so file ownership and IAM/EFS policies can name it. The base
# image's own pip/setuptools/wheel are removed for the same reason as in the venv. DAGSTER_HOME
# belongs to the user: the entrypoint rewrites dagster.yaml there at start, and Dagster keeps its
# local artifact storage in DAGSTER_HOME/storage. The files copied into it stay owned by root.
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --no-create-home \
       --shell /usr/sbin/nologin dagster \
    && python -m pip uninstall --yes pip setuptools wheel \
    && mkdir -p /opt/dagster/app /opt/dagster/dagster_home/storage \
    && chown -R dagster:dagster /opt/dagster/dagster_home

COPY --from=builder /opt/venv /opt/venv
# Instance config (PostgreSQL storage, EcsRunLauncher, run queue, monitoring, S3 compute logs)
# and the deployed workspace (the code-server service), both maintained in deploy/.
COPY deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/dagster_home/
COPY --chmod=0755 deploy/entrypoint.sh /opt/dagster/entrypoint.sh

# The writable paths of a container whose root filesystem is read-only (the task definitions'
# default). On Fargate a bind-mount volume is root-owned 0755 unless the image declares the same
# path as a VOLUME: then ECS copies the path's content and ownership into it. So the task's scratch
# volumes mounted at these paths keep /tmp world-writable (1777) and give DAGSTER_HOME (with its
# dagster.yaml and workspace.yaml) and DAGSTER_HOME/storage to the dagster user.
VOLUME ["/tmp", "/opt/dagster/dagster_home", "/opt/dagster/dagster_home/storage"]

WORKDIR /opt/dagster/app
# The user is named in the shared deployment contract; its uid/gid are fixed to 10001 above, so
# the name resolves to the same ids everywhere. ECS does not check runAsNonRoot by numeric id.
# hadolint ignore=DL3066
USER dagster

# Webserver (behind the internal ALB) and code server gRPC.
EXPOSE 3000 4000

# No image-level health check: the same image runs five roles, and no single probe is right
# for all of them (a run worker or the RUN_DATE task has no port; the daemon has no port at
# all). ECS ignores Docker HEALTHCHECK anyway; the task definitions carry one probe per role:
# webserver GET /server_info on 3000 (and the ALB target group), code server
# `dagster api grpc-health-check -p 4000`, daemon `dagster-daemon liveness-check`.
HEALTHCHECK NONE

ENTRYPOINT ["/opt/dagster/entrypoint.sh"]
CMD ["pipeline-project", "run"]
