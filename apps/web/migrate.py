"""The migration function: brings the schema up to date and (re)grants the application role.

Invoked once per deployment by the stack (`aws.lambda_.Invocation`) after the database exists,
with the RDS-managed master secret, which nothing else in the stack can read: the web tier only
ever logs in as the application role. A failure fails the `pulumi up` that invoked it.

Environment: DB_SECRET_ARN, DB_HOST, DB_PORT, DB_NAME, DB_USER (the application role),
DB_SSLMODE (default verify-full), RDS_CA_BUNDLE_URL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import database
import psycopg

# The only writable place in a Lambda sandbox; kept across warm invocations.
CA_BUNDLE = Path("/tmp/rds-ca.pem")  # noqa: S108


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    env = os.environ
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=env["DB_SECRET_ARN"])["SecretString"])
    sslmode = env.get("DB_SSLMODE", "verify-full")
    root = str(database.ca_bundle(CA_BUNDLE, env["RDS_CA_BUNDLE_URL"])) if sslmode.startswith("verify") else None
    with psycopg.connect(
        host=env["DB_HOST"],
        port=int(env.get("DB_PORT", "5432")),
        dbname=env["DB_NAME"],
        user=secret["username"],
        password=secret["password"],
        sslmode=sslmode,
        sslrootcert=root,
        connect_timeout=10,
        application_name="aws-patterns-migrate",
    ) as conn:
        applied = database.migrate(conn)
        database.grant_application_role(conn, env["DB_USER"])
    return {"applied": applied, "schemaVersion": len(database.MIGRATIONS), "applicationRole": env["DB_USER"]}
