"""The web tier of the multi-tier pattern: a small JSON API over PostgreSQL.

- `GET /health` answers 200 only when the database answers a query, so the load balancer takes
  an instance out of service when it cannot reach the database (and puts it back when it can).
- `/items` is a JSON CRUD resource. Names are unique, so a retried or concurrent create of the
  same item yields one row and a 409 for the others, never a duplicate.
- The schema is migrated when the app starts, under an advisory lock so that instances (and
  gunicorn workers) starting together apply each migration exactly once.
- Credentials are the RDS-managed master secret, read from Secrets Manager at run time and
  re-read when the database refuses them, because RDS rotates that secret on its own schedule.

Configuration comes from the environment (the instance's /etc/web.env, written by user data):
DB_HOST, DB_PORT, DB_NAME, DB_SECRET_ARN, DB_SSLMODE, DB_SSLROOTCERT, AWS_REGION.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import boto3
import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, request
from psycopg import errors
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from werkzeug.exceptions import HTTPException

log = logging.getLogger("web")

HEALTH_PATH = "/health"
MAX_PAGE = 100
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
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
# Any constant works; it only has to be the same in every process migrating this database.
MIGRATION_LOCK = 0x77656200


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    dbname: str
    secret_arn: str
    region: str
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    connect_timeout: int = 3

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            host=env["DB_HOST"],
            port=int(env.get("DB_PORT", "5432")),
            dbname=env["DB_NAME"],
            secret_arn=env["DB_SECRET_ARN"],
            region=env["AWS_REGION"],
            sslmode=env.get("DB_SSLMODE", cls.sslmode),
            sslrootcert=env.get("DB_SSLROOTCERT") or None,
        )


class Credentials:
    """The database user and password from the RDS-managed secret, cached between requests."""

    def __init__(self, secret_arn: str, region: str) -> None:
        self._secret_arn = secret_arn
        self._client = boto3.client("secretsmanager", region_name=region)
        self._lock = threading.Lock()
        self._cached: tuple[str, str] | None = None

    def get(self, refresh: bool = False) -> tuple[str, str]:
        with self._lock:
            if self._cached is None or refresh:
                secret = json.loads(self._client.get_secret_value(SecretId=self._secret_arn)["SecretString"])
                self._cached = (secret["username"], secret["password"])
            return self._cached


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.credentials = Credentials(settings.secret_arn, settings.region)

    def _connect(self, refresh: bool) -> psycopg.Connection[dict[str, Any]]:
        user, password = self.credentials.get(refresh=refresh)
        s = self.settings
        return psycopg.connect(
            host=s.host,
            port=s.port,
            dbname=s.dbname,
            user=user,
            password=password,
            sslmode=s.sslmode,
            sslrootcert=s.sslrootcert,
            connect_timeout=s.connect_timeout,
            application_name="aws-patterns-web",
            row_factory=dict_row,
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A connection whose transaction commits on success and rolls back on error."""
        try:
            conn = self._connect(refresh=False)
        except psycopg.OperationalError as exc:
            # The server asked for a password and refused ours: the secret was probably rotated.
            if exc.pgconn is None or not exc.pgconn.used_password:
                raise
            log.info("database refused the cached credentials; re-reading the secret")
            conn = self._connect(refresh=True)
        with conn:
            yield conn

    def migrate(self) -> int:
        """Apply the migrations this database lacks; returns how many were applied."""
        with self.connection() as conn:
            # A session-level lock: held across the commits below, released when the connection closes.
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)")
            conn.commit()
            row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").fetchone()
            current = row["v"] if row else 0
            for version, statement in enumerate(MIGRATIONS[current:], start=current + 1):
                conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                conn.commit()
                log.info("applied migration %d", version)
            return len(MIGRATIONS) - current


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ItemIn(BaseModel):
    """The body of POST and PUT: every field required, nothing else accepted."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: Name
    quantity: int = Field(ge=0, le=INT_MAX)

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        # PostgreSQL text cannot hold NUL, and control characters in names are never intended.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not contain control characters")
        return value


def _item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "quantity": row["quantity"],
        "createdAt": row["created_at"].isoformat(),
        "updatedAt": row["updated_at"].isoformat(),
    }


def _error(status: int, message: str, **extra: Any) -> tuple[dict[str, Any], int]:
    return {"message": message, **extra}, status


def _body() -> ItemIn | tuple[dict[str, Any], int]:
    if not request.is_json:
        return _error(415, "send a JSON object with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    try:
        return ItemIn.model_validate(data)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        return _error(400, "invalid item", errors=problems)


def _query_int(name: str, default: int, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        return None
    return int(raw)


# Literal SQL on purpose: every statement is visible whole, and nothing is built from strings.
SELECT_PAGE = "SELECT id, name, quantity, created_at, updated_at FROM items WHERE id > %s ORDER BY id LIMIT %s"
SELECT_ONE = "SELECT id, name, quantity, created_at, updated_at FROM items WHERE id = %s"
INSERT = "INSERT INTO items (name, quantity) VALUES (%s, %s) RETURNING id, name, quantity, created_at, updated_at"
UPDATE = (
    "UPDATE items SET name = %s, quantity = %s, updated_at = now() WHERE id = %s "
    "RETURNING id, name, quantity, created_at, updated_at"
)
DELETE = "DELETE FROM items WHERE id = %s RETURNING id"


def _name_taken(body: ItemIn) -> tuple[dict[str, Any], int]:
    return _error(409, f"an item named {body.name!r} already exists")


def create_app(settings: Settings | None = None) -> Flask:
    """The WSGI app (gunicorn: `app:create_app()`); migrates the schema before serving."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    db = Database(settings or Settings.from_env())
    db.migrate()

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.get(HEALTH_PATH)
    def health() -> tuple[dict[str, Any], int]:
        try:
            with db.connection() as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, BotoCoreError, ClientError) as exc:
            log.warning("health check failed: %s", exc)
            return {"status": "unavailable"}, 503
        return {"status": "ok"}, 200

    @app.get("/items")
    def list_items() -> tuple[dict[str, Any], int]:
        limit = _query_int("limit", 50, 1, MAX_PAGE)
        after = _query_int("after", 0, 0, BIGINT_MAX)
        if limit is None or after is None:
            return _error(400, f"limit must be an integer from 1 to {MAX_PAGE}; after a non-negative item id")
        with db.connection() as conn:
            rows = conn.execute(SELECT_PAGE, (after, limit)).fetchall()
        items = [_item(r) for r in rows]
        return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}, 200

    @app.post("/items")
    def create_item() -> Any:
        body = _body()
        if not isinstance(body, ItemIn):
            return body
        try:
            with db.connection() as conn:
                row = conn.execute(INSERT, (body.name, body.quantity)).fetchone()
        except errors.UniqueViolation:
            return _name_taken(body)
        assert row is not None
        return _item(row), 201, {"Location": f"/items/{row['id']}"}

    # Ids beyond bigint need no special case: PostgreSQL compares them as numeric and finds nothing.
    @app.get("/items/<int:item_id>")
    def get_item(item_id: int) -> tuple[dict[str, Any], int]:
        with db.connection() as conn:
            row = conn.execute(SELECT_ONE, (item_id,)).fetchone()
        return (_item(row), 200) if row else _error(404, f"no item {item_id}")

    @app.put("/items/<int:item_id>")
    def replace_item(item_id: int) -> tuple[dict[str, Any], int]:
        body = _body()
        if not isinstance(body, ItemIn):
            return body
        try:
            with db.connection() as conn:
                row = conn.execute(UPDATE, (body.name, body.quantity, item_id)).fetchone()
        except errors.UniqueViolation:
            return _name_taken(body)
        return (_item(row), 200) if row else _error(404, f"no item {item_id}")

    @app.delete("/items/<int:item_id>")
    def delete_item(item_id: int) -> Any:
        with db.connection() as conn:
            deleted = conn.execute(DELETE, (item_id,)).fetchone()
        return ("", 204) if deleted else _error(404, f"no item {item_id}")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[dict[str, Any], int]:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(psycopg.OperationalError)
    def database_down(exc: psycopg.OperationalError) -> tuple[dict[str, Any], int]:
        log.warning("database unavailable: %s", exc)
        return _error(503, "the database is unavailable; retry later")

    @app.errorhandler(BotoCoreError)
    @app.errorhandler(ClientError)
    def secret_unreadable(exc: Exception) -> tuple[dict[str, Any], int]:
        log.warning("database secret unreadable: %s", exc)
        return _error(503, "the database credentials are unavailable; retry later")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[dict[str, Any], int]:
        log.exception("unhandled error")
        return _error(500, "internal error")

    return app
