"""`pipeline-project db-setup` and the login it prepares, on a PostgreSQL server of the test's own
set up like RDS: a master user that is no superuser (CREATEDB, CREATEROLE, admin of rds_iam) owns
the Dagster database, and members of rds_iam log in with IAM tokens, which RDS checks. Here the
server trusts the app user on loopback instead (the token check is RDS's); the tests check that
the token is what every connection presents.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance, asset, materialize
from sqlalchemy import event

from pipeline_project_tests.conftest import OwnPostgres

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
APP, MASTER, MASTER_PASSWORD, DB = "dagster_app", "master", "master-pw-1", "dagster"
KEY_ID = "AKIAEXAMPLEROLE00001"
OWN_PG_HBA = (
    f"host all {MASTER} 127.0.0.1/32 scram-sha-256\n"
    f"host all {APP} 127.0.0.1/32 trust\n"  # stands for RDS's IAM token check
    "host all someone 127.0.0.1/32 trust\n"
    "host all postgres 127.0.0.1/32 trust\n"
)

pytestmark = pytest.mark.security


@pytest.fixture
def rds_like(own_postgres: OwnPostgres) -> OwnPostgres:
    own_postgres.execute("CREATE ROLE rds_iam NOLOGIN")
    own_postgres.execute(f"CREATE ROLE {MASTER} LOGIN CREATEDB CREATEROLE PASSWORD %s", params=(MASTER_PASSWORD,))
    own_postgres.execute(f"GRANT rds_iam TO {MASTER} WITH ADMIN OPTION")
    own_postgres.execute(f"CREATE DATABASE {DB} OWNER {MASTER}")
    own_postgres.execute("CREATE ROLE someone LOGIN")
    return own_postgres


def _env(server: OwnPostgres, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "DAGSTER_PG_HOST": server.host,
        "DAGSTER_PG_PORT": str(server.port),
        "DAGSTER_PG_DB": DB,
        "DAGSTER_PG_USERNAME": APP,
        "DAGSTER_PG_ADMIN_USERNAME": MASTER,
        "DAGSTER_PG_ADMIN_PASSWORD": MASTER_PASSWORD,
        **extra,
    }


def _db_setup(server: OwnPostgres, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "pipeline-project"), "db-setup"],
        env=_env(server, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _deployed_instance(server: OwnPostgres, home: Path, monkeypatch) -> DagsterInstance:
    """deploy/dagster.yaml as a service loads it, with the task role's credentials."""
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for key, value in _env(server).items():
        if not key.startswith("DAGSTER_PG_ADMIN"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-of-the-task-role")
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", "unused")
    # A fresh default session reads these credentials (an earlier test's may have cached others).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return DagsterInstance.from_config(str(home))


@asset
def probe() -> int:
    return 1


def test_db_setup_makes_a_least_privilege_iam_login_that_owns_the_dagster_tables(rds_like, tmp_path, monkeypatch):
    # A deployment from before: the master user created the Dagster tables.
    with DagsterInstance.from_config(str(_master_home(rds_like, tmp_path / "before"))) as before:
        assert materialize([probe], instance=before).success
    assert {r[0] for r in rds_like.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'", DB)} == {
        MASTER
    }

    done = _db_setup(rds_like)
    assert done.returncode == 0, done.stderr
    tables = len(rds_like.execute("SELECT 1 FROM pg_tables WHERE schemaname = 'public'", DB))
    assert done.stdout.splitlines()[0] == f"created the login {APP}"
    assert f"{APP} now owns " in done.stdout and tables > 10
    again = _db_setup(rds_like)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{APP}: IAM authentication only, connect to {DB}, create in its public schema\n"

    # The login: no password, no privilege beyond its database, IAM authentication only.
    ((attributes),) = rds_like.execute(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolpassword "
        "FROM pg_authid WHERE rolname = %s",
        params=(APP,),
    )
    assert attributes == (True, False, False, False, False, False, None)
    assert rds_like.execute("SELECT pg_has_role(%s, 'rds_iam', 'MEMBER')", params=(APP,)) == [(True,)]
    owners = rds_like.execute(
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND relkind IN ('r', 'S', 'v')",
        DB,
    )
    assert owners == [(APP,)]
    app = rds_like.connect(user=APP, dbname=DB)
    app.autocommit = True
    for statement in ("CREATE DATABASE other", "CREATE ROLE other", "ALTER ROLE dagster_app CREATEDB"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), app.cursor() as cur:
            cur.execute(statement)
    app.close()
    with pytest.raises(psycopg2.OperationalError, match=f'permission denied for database "{DB}"'):
        rds_like.connect(user="someone", dbname=DB)

    # Every process of the deployment: deploy/dagster.yaml, as the app user, with IAM tokens.
    presented = []
    with _deployed_instance(rds_like, tmp_path / "deployed", monkeypatch) as instance:
        for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
            event.listen(storage._engine, "do_connect", lambda d, r, a, params: presented.append(dict(params)))
        result = materialize([probe], instance=instance)
        assert result.success
        assert instance.get_latest_materialization_event(AssetKey("probe")).run_id == result.run_id
        assert len(instance.get_runs()) == 2  # the master's run and this one: the same tables
        instance.upgrade()  # migrations need ownership
    assert presented and {p["user"] for p in presented} == {APP}
    for params in presented:
        token = params["password"]
        assert token.startswith(f"{rds_like.host}:{rds_like.port}/?Action=connect&DBUser={APP}&"), token
        assert f"X-Amz-Credential={KEY_ID}%2F" in token and "X-Amz-Expires=900" in token


def test_tokens_are_minted_again_before_they_expire(rds_like, tmp_path, monkeypatch):
    """RDS tokens live 15 minutes: a connection 11 minutes after the first signs a new one from the
    role's current credentials, so a long-running service never holds a credential that goes stale
    (and there is no password to rotate)."""
    import dagster_postgres.auth as auth

    assert _db_setup(rds_like).returncode == 0
    clock = [1_800_000_000.0]
    monkeypatch.setattr(auth, "time", type("Clock", (), {"time": staticmethod(lambda: clock[0])}))
    minted = []
    fetch = auth.AwsWifTokenProvider._fetch_token

    def counting(provider):
        minted.append(provider._username)
        return fetch(provider)

    monkeypatch.setattr(auth.AwsWifTokenProvider, "_fetch_token", counting)
    with _deployed_instance(rds_like, tmp_path / "deployed", monkeypatch) as instance:
        instance.get_runs()
        assert minted == [APP]  # one provider for the runs, events and schedules storages
        clock[0] += 9 * 60
        instance.get_runs()
        assert minted == [APP]  # cached: the signature is reused for 10 minutes
        clock[0] += 2 * 60
        instance.get_runs()
        assert minted == [APP, APP]  # signed again for this connection


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (f"CREATE ROLE {APP} LOGIN CREATEROLE", f"{APP} holds CREATEROLE: a Dagster login must not; revoke it first"),
        ("DROP ROLE rds_iam", "the role rds_iam does not exist: IAM database authentication needs RDS"),
    ],
)
def test_db_setup_refuses_a_login_it_cannot_make_least_privilege(rds_like, prepare, message):
    rds_like.execute(prepare)
    refused = _db_setup(rds_like)
    assert (refused.returncode, refused.stderr) == (2, f"pipeline-project: {message}\n")


def test_db_setup_names_what_is_missing(rds_like):
    refused = _db_setup(rds_like, DAGSTER_PG_ADMIN_USERNAME="")
    assert (refused.returncode, refused.stderr) == (2, "pipeline-project: DAGSTER_PG_ADMIN_USERNAME not set\n")


def _master_home(server: OwnPostgres, home: Path) -> Path:
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {server.host}\n      port: {server.port}\n      db_name: {DB}\n"
        f"      username: {MASTER}\n      password: {MASTER_PASSWORD}\n"
        "telemetry:\n  enabled: false\n"
    )
    return home
