"""`pipeline-project db-setup`: the least-privilege database user every Dagster process logs in as.

Run once per environment, and again at any time (it is idempotent), as the one-off ECS task
`pipeline-<env>-db-setup`, the only task that receives the RDS master password. It makes sure that:
- the app user (DAGSTER_PG_USERNAME) exists: a login without a password, authenticated by RDS IAM
  tokens only (member of rds_iam), and without SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or
  BYPASSRLS;
- it may connect to the Dagster database and create tables in its public schema, and owns the
  Dagster tables that the master user created before this user existed (so migrations work);
- other roles of the cluster (PUBLIC) may not connect to the Dagster database.

Connection: DAGSTER_PG_HOST, DAGSTER_PG_PORT, DAGSTER_PG_DB, and the master user's
DAGSTER_PG_ADMIN_USERNAME / DAGSTER_PG_ADMIN_PASSWORD (PGSSLMODE and the other libpq variables
apply as usual).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import psycopg2
from psycopg2 import sql

# What a least-privilege login must not hold (pg_roles columns).
FORBIDDEN_ATTRIBUTES = ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls")
IAM_ROLE = "rds_iam"


class SetupRefused(Exception):
    pass


def connection_settings(env: Mapping[str, str]) -> dict:
    missing = [
        name
        for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_USERNAME", "DAGSTER_PG_ADMIN_USERNAME")
        if not env.get(name)
    ]
    if missing:
        raise SetupRefused(f"{', '.join(missing)} not set")
    return {
        "host": env["DAGSTER_PG_HOST"],
        "port": int(env.get("DAGSTER_PG_PORT") or 5432),
        "dbname": env["DAGSTER_PG_DB"],
        "user": env["DAGSTER_PG_ADMIN_USERNAME"],
        "password": env.get("DAGSTER_PG_ADMIN_PASSWORD", ""),
    }


def set_up(connection, database: str, app_user: str, say: Callable[[str], None] = print) -> None:
    """Create or correct the app user and its grants, in one transaction."""
    user, db = sql.Identifier(app_user), sql.Identifier(database)
    with connection, connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (IAM_ROLE,))
        if cur.fetchone() is None:
            raise SetupRefused(f"the role {IAM_ROLE} does not exist: IAM database authentication needs RDS")
        cur.execute(f"SELECT {', '.join(FORBIDDEN_ATTRIBUTES)} FROM pg_roles WHERE rolname = %s", (app_user,))
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(user))
            say(f"created the login {app_user}")
        else:
            held = [name[3:].upper() for name, value in zip(FORBIDDEN_ATTRIBUTES, row, strict=True) if value]
            if held:
                raise SetupRefused(f"{app_user} holds {', '.join(held)}: a Dagster login must not; revoke it first")
            cur.execute(sql.SQL("ALTER ROLE {} LOGIN").format(user))
        # No password: only an IAM token, minted from a task role, logs it in.
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD NULL").format(user))
        cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(IAM_ROLE), user))
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, user))
        cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(user))
        # ALTER ... OWNER TO needs membership of the new owner; the master user may hold it.
        cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(user))
        adopted = _adopt(cur, user)
        say(f"{app_user}: IAM authentication only, connect to {database}, create in its public schema")
        if adopted:
            say(f"{app_user} now owns {adopted} tables, views and sequences the master user created")


def _adopt(cur, user: sql.Identifier) -> int:
    """Hand the master user's objects in the public schema to the app user. Sequences that belong to
    a table follow it; tables first, then views, then free-standing sequences."""
    cur.execute(
        """
        SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = CURRENT_USER)
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND NOT (c.relkind = 'S' AND EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')
              AND d.refclassid = 'pg_class'::regclass))
        ORDER BY CASE c.relkind WHEN 'r' THEN 0 WHEN 'p' THEN 0 WHEN 'v' THEN 1 WHEN 'm' THEN 1 ELSE 2 END, c.relname
        """
    )
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    objects = cur.fetchall()
    for name, kind in objects:
        statement = sql.SQL(f"ALTER {kinds[kind]} {{}} OWNER TO {{}}")
        cur.execute(statement.format(sql.Identifier("public", name), user))
    return len(objects)


def main(env: Mapping[str, str] = os.environ) -> int:
    settings = connection_settings(env)
    connection = psycopg2.connect(**settings, connect_timeout=15, application_name="pipeline-project db-setup")
    try:
        set_up(connection, settings["dbname"], env["DAGSTER_PG_USERNAME"])
    finally:
        connection.close()
    return 0
