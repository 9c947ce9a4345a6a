"""What the web app and its migration function share: the schema, the application role, TLS to RDS.

- `MIGRATIONS` run once each, in order, by `migrate()` on a connection of the RDS master user
  (the migration function, `migrate.py`; never the web tier). `grant_application_role()` then
  (re)creates the role the web tier logs in as and gives it exactly what the app needs: use the
  schema, read and write `items`, read `schema_migrations`. It owns nothing, so it cannot drop or
  alter a table, create one, create roles or truncate.
- On RDS the application role is a member of `rds_iam`: it logs in only with an IAM
  authentication token, which the instance role may request for that user on that database alone.
- RDS certificates are signed by RDS's own CAs, which no system trust store holds: `ca_bundle()`
  fetches AWS's bundle once and keeps it, so `sslmode=verify-full` can check the server.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import tuple_row

# Each entry runs once, in order, in its own transaction; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE items (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        quantity integer NOT NULL CHECK (quantity >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT items_name_key UNIQUE (name)
    )
    """,
)
# The tables the application role reads and writes, and the one it only reads.
APP_TABLES = ("items",)
VERSION_TABLE = "schema_migrations"
# Any constant works; it only has to be the same in every process migrating this database.
MIGRATION_LOCK = 0x77656200
# The RDS role whose members authenticate with IAM tokens instead of passwords.
RDS_IAM_ROLE = "rds_iam"


class UnsafeRoleError(Exception):
    """The application role exists with powers the app must not have."""


def migrate(conn: Connection[Any]) -> int:
    """Apply the migrations this database lacks; returns how many were applied."""
    # A session-level lock: held across the commits below, released with the connection, so
    # two migrations started together (a retried deployment) apply each step once.
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version integer PRIMARY KEY)")
        conn.commit()
        row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}").fetchone()  # noqa: S608
        current = row[0] if row else 0
        for version, statement in enumerate(MIGRATIONS[current:], start=current + 1):
            conn.execute(statement)
            conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (%s)", (version,))  # noqa: S608
            conn.commit()
        return len(MIGRATIONS) - current
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        conn.commit()


def grant_application_role(conn: Connection[Any], role: str, iam_role: str = RDS_IAM_ROLE) -> None:
    """Create `role` if needed and grant it the app's privileges, and nothing else."""
    name = sql.Identifier(role)
    found = conn.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone()
    if found is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
    elif any(found):
        raise UnsafeRoleError(f"role {role!r} has superuser, createrole, createdb or bypassrls; refusing to use it")
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (iam_role,)).fetchone():
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(iam_role), name))
    # Before PostgreSQL 15 every role may create tables in `public`; nobody but the owner should.
    conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in APP_TABLES)
    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(tables, name))
    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(VERSION_TABLE), name))
    conn.commit()


def schema_version(conn: Connection[Any]) -> int:
    """The number of migrations applied (0 before the first)."""
    # Whatever row factory the caller's connection uses, this reads a plain tuple.
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def ca_bundle(path: Path, url: str, timeout: float = 10) -> Path:
    """`path`, holding the RDS CA bundle from `url` (fetched on first use, then kept)."""
    if path.is_file() and path.stat().st_size:
        return path
    if not url.startswith("https://"):
        raise ValueError(f"the CA bundle must come over HTTPS, not {url!r}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        pem = response.read()
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError(f"{url} did not return PEM certificates")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so a reader never sees half a bundle.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rds-ca-")
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    Path(tmp).replace(path)
    return path
