"""The web tier of the multi-tier pattern: a small JSON API over PostgreSQL.

- `GET /health/live` answers 200 while the process serves requests and touches nothing else: it
  is what the load balancer checks, so a database failover never makes Auto Scaling replace the
  fleet. `GET /health/ready` answers 200 only when the database answers as the application role
  and its schema is migrated (503 otherwise); each instance reports it as a metric with an alarm.
- `/items` is a JSON CRUD resource. Reads are open; with `WRITE_AUTH=jwt` every write needs a
  bearer token of the stack's issuer (signature checked against the issuer's JWKS, `iss`, `exp`,
  and `aud` or Cognito's `client_id` among the accepted audiences), else 401.
- Names are unique, so a retried or concurrent create of one item yields one row and 409s.
- The app connects as the application role (not the master user) with an IAM authentication
  token; it finds the database's endpoint from its identifier at run time, so instances can boot
  before the database exists and start serving reads once it answers. The schema is migrated by
  the stack's migration function (`migrate.py`), not here.

Configuration comes from the environment (the instance's /etc/web.env, written by user data):
AWS_REGION, DB_INSTANCE_ID (or DB_HOST), DB_PORT, DB_NAME, DB_USER, DB_SSLMODE, DB_SSLROOTCERT,
RDS_CA_BUNDLE_URL, WRITE_AUTH (jwt or none), JWT_ISSUER, JWT_AUDIENCES (comma-separated), JWT_JWKS_URI.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import boto3
import database
import jwt
import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, request
from psycopg import errors
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from werkzeug.exceptions import HTTPException

log = logging.getLogger("web")

LIVENESS_PATH = "/health/live"
READINESS_PATH = "/health/ready"
MAX_PAGE = 100
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
# An id the table could hold: 1 to 19 ASCII digits (bigint), no sign, no leading zero.
ITEM_ID = re.compile(r"[1-9][0-9]{0,18}")
# Asymmetric algorithms only: a token signed with a shared secret (HS*) or none is never accepted.
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
JWT_LEEWAY_S = 30


class DatabaseUnavailableError(Exception):
    """The database cannot be reached yet (being created, no endpoint, no CA bundle)."""


@dataclass(frozen=True)
class Settings:
    dbname: str
    user: str
    region: str
    instance_id: str | None = None
    host: str | None = None  # instead of instance_id: a fixed endpoint (local runs, tests)
    port: int = 5432
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    ca_bundle_url: str | None = None
    connect_timeout: int = 3
    write_auth: str = "none"  # or "jwt"
    jwt_issuer: str = ""
    jwt_audiences: tuple[str, ...] = field(default_factory=tuple)
    jwt_jwks_uri: str = ""

    def __post_init__(self) -> None:
        if (self.instance_id is None) == (self.host is None):
            raise ValueError("set exactly one of DB_INSTANCE_ID and DB_HOST")
        if self.write_auth not in ("none", "jwt"):
            raise ValueError(f"WRITE_AUTH must be jwt or none, not {self.write_auth!r}")
        if self.write_auth == "jwt" and not (self.jwt_issuer and self.jwt_audiences and self.jwt_jwks_uri):
            raise ValueError("WRITE_AUTH=jwt needs JWT_ISSUER, JWT_AUDIENCES and JWT_JWKS_URI")

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            dbname=env["DB_NAME"],
            user=env["DB_USER"],
            region=env["AWS_REGION"],
            instance_id=env.get("DB_INSTANCE_ID") or None,
            host=env.get("DB_HOST") or None,
            port=int(env.get("DB_PORT", "5432")),
            sslmode=env.get("DB_SSLMODE", cls.sslmode),
            sslrootcert=env.get("DB_SSLROOTCERT") or None,
            ca_bundle_url=env.get("RDS_CA_BUNDLE_URL") or None,
            write_auth=env.get("WRITE_AUTH", "none"),
            jwt_issuer=env.get("JWT_ISSUER", ""),
            jwt_audiences=tuple(a for a in env.get("JWT_AUDIENCES", "").split(",") if a),
            jwt_jwks_uri=env.get("JWT_JWKS_URI", ""),
        )


class Database:
    """Connections as the application role, to an endpoint found from the instance identifier.

    `password(host, port)` gives the credential of each new connection; by default a fresh IAM
    authentication token (valid 15 minutes, signed locally with the instance role's credentials).
    """

    def __init__(self, settings: Settings, password: Callable[[str, int], str] | None = None) -> None:
        self.settings = settings
        self._rds = boto3.client("rds", region_name=settings.region)
        self._password = password or self._iam_token
        self._lock = threading.Lock()
        self._endpoint: tuple[str, int] | None = (settings.host, settings.port) if settings.host else None

    def _iam_token(self, host: str, port: int) -> str:
        return self._rds.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=self.settings.user, Region=self.settings.region
        )

    def endpoint(self) -> tuple[str, int]:
        with self._lock:
            if self._endpoint is None:
                (instance,) = self._rds.describe_db_instances(DBInstanceIdentifier=self.settings.instance_id)[
                    "DBInstances"
                ]
                # RDS publishes the endpoint only once the instance is created.
                address = (instance.get("Endpoint") or {}).get("Address")
                if not address:
                    raise DatabaseUnavailableError(f"{self.settings.instance_id} has no endpoint yet")
                self._endpoint = (address, int(instance["Endpoint"]["Port"]))
            return self._endpoint

    def _root_certificate(self) -> str | None:
        s = self.settings
        if not (s.sslrootcert and s.ca_bundle_url):
            return s.sslrootcert
        try:
            return str(database.ca_bundle(Path(s.sslrootcert), s.ca_bundle_url))
        except (OSError, ValueError) as exc:
            raise DatabaseUnavailableError(f"no RDS CA bundle: {exc}") from exc

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A connection whose transaction commits on success and rolls back on error."""
        host, port = self.endpoint()
        s = self.settings
        conn = psycopg.connect(
            host=host,
            port=port,
            dbname=s.dbname,
            user=s.user,
            password=self._password(host, port),
            sslmode=s.sslmode,
            sslrootcert=self._root_certificate(),
            connect_timeout=s.connect_timeout,
            application_name="aws-patterns-web",
            row_factory=dict_row,
        )
        with conn:
            yield conn


class UnauthorizedError(Exception):
    """A write without a token this stack's issuer signed for one of its audiences."""


class TokenVerifier:
    """Bearer tokens of one OIDC issuer, checked as API Gateway's JWT authorizers check them."""

    def __init__(self, issuer: str, audiences: tuple[str, ...], jwks_uri: str) -> None:
        self.issuer = issuer
        self.audiences = set(audiences)
        # Keys are cached; an unknown `kid` (the issuer rotated its keys) refetches the set once.
        self._keys = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300, timeout=5)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("send Authorization: Bearer <token>")
        try:
            key = self._keys.get_signing_key_from_jwt(token.strip())
            claims = jwt.decode(
                token.strip(),
                key,
                algorithms=JWT_ALGORITHMS,
                issuer=self.issuer,
                leeway=JWT_LEEWAY_S,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.PyJWKClientConnectionError:
            raise  # the issuer's keys are unreachable: not the caller's fault (503)
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise UnauthorizedError(f"invalid token: {exc}") from exc
        # ID tokens carry the client in `aud`; Cognito access tokens in `client_id`.
        audience = claims.get("aud", claims.get("client_id"))
        offered = {audience} if isinstance(audience, str) else set(audience or [])
        if not offered & self.audiences:
            raise UnauthorizedError("invalid token: not issued for this application")
        return claims


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
        return _error(422, "invalid item", errors=problems)


def _item_id(raw: str) -> int | None:
    """The id in a path, or None when no item can have it (any length or content: never a 5xx)."""
    if not ITEM_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= BIGINT_MAX else None


def _query_int(name: str, default: int, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        return None
    return int(raw)


# Literal SQL on purpose: every statement is visible whole, and nothing is built from strings.
SELECT_PAGE = "SELECT id, name, quantity, created_at, updated_at FROM items WHERE id > %s ORDER BY id LIMIT %s"
SELECT_ONE = "SELECT id, name, quantity, created_at, updated_at FROM items WHERE id = %s"
INSERT = "INSERT INTO items (name, quantity) VALUES (%s, %s) RETURNING id, name, quantity, created_at, updated_at"
# updatedAt strictly increases on every PUT, even when the clock steps back or two land in one tick.
UPDATE = (
    "UPDATE items SET name = %s, quantity = %s, "
    "updated_at = greatest(now(), updated_at + interval '1 microsecond') WHERE id = %s "
    "RETURNING id, name, quantity, created_at, updated_at"
)
DELETE = "DELETE FROM items WHERE id = %s RETURNING id"


def _name_taken(body: ItemIn) -> tuple[dict[str, Any], int]:
    return _error(409, f"an item named {body.name!r} already exists")


def _no_item(raw: str) -> tuple[dict[str, Any], int]:
    return _error(404, f"no item {raw[:40]!r}")


def create_app(settings: Settings | None = None, password: Callable[[str, int], str] | None = None) -> Flask:
    """The WSGI app (gunicorn: `app:create_app()`); starts without waiting for the database."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = settings or Settings.from_env()
    db = Database(settings, password)
    verifier = (
        TokenVerifier(settings.jwt_issuer, settings.jwt_audiences, settings.jwt_jwks_uri)
        if settings.write_auth == "jwt"
        else None
    )

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def authorized() -> tuple[dict[str, Any], int, dict[str, str]] | None:
        """None when the caller may write; else the 401 to answer (checked before anything else)."""
        if verifier is None:
            return None
        try:
            verifier.verify(request.headers.get("Authorization"))
        except UnauthorizedError as exc:
            challenge = 'Bearer realm="items", error="invalid_token"'
            return {"message": str(exc)}, 401, {"WWW-Authenticate": challenge}
        return None

    @app.get(LIVENESS_PATH)
    def live() -> tuple[dict[str, Any], int]:
        return {"status": "ok"}, 200

    @app.get(READINESS_PATH)
    def ready() -> tuple[dict[str, Any], int]:
        try:
            with db.connection() as conn:
                version = database.schema_version(conn)
        except errors.UndefinedTable:
            version = 0
        except (psycopg.Error, BotoCoreError, ClientError, DatabaseUnavailableError) as exc:
            log.warning("not ready: %s", exc)
            return {"status": "unavailable"}, 503
        if version < len(database.MIGRATIONS):
            return {"status": "migrating", "schemaVersion": version}, 503
        return {"status": "ok", "schemaVersion": version}, 200

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
        if denied := authorized():
            return denied
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

    @app.get("/items/<path:raw_id>")
    def get_item(raw_id: str) -> tuple[dict[str, Any], int]:
        item_id = _item_id(raw_id)
        if item_id is None:
            return _no_item(raw_id)
        with db.connection() as conn:
            row = conn.execute(SELECT_ONE, (item_id,)).fetchone()
        return (_item(row), 200) if row else _no_item(raw_id)

    @app.put("/items/<path:raw_id>")
    def replace_item(raw_id: str) -> Any:
        if denied := authorized():
            return denied
        item_id = _item_id(raw_id)
        if item_id is None:
            return _no_item(raw_id)
        body = _body()
        if not isinstance(body, ItemIn):
            return body
        try:
            with db.connection() as conn:
                row = conn.execute(UPDATE, (body.name, body.quantity, item_id)).fetchone()
        except errors.UniqueViolation:
            return _name_taken(body)
        return (_item(row), 200) if row else _no_item(raw_id)

    @app.delete("/items/<path:raw_id>")
    def delete_item(raw_id: str) -> Any:
        if denied := authorized():
            return denied
        item_id = _item_id(raw_id)
        if item_id is None:
            return _no_item(raw_id)
        with db.connection() as conn:
            deleted = conn.execute(DELETE, (item_id,)).fetchone()
        return ("", 204) if deleted else _no_item(raw_id)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[dict[str, Any], int]:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(DatabaseUnavailableError)
    def database_down(exc: Exception) -> tuple[dict[str, Any], int]:
        log.warning("database unavailable: %s", exc)
        return _error(503, "the database is unavailable; retry later")

    # Before the migration function has run (a first deployment) the tables do not exist yet.
    @app.errorhandler(errors.UndefinedTable)
    @app.errorhandler(errors.UndefinedColumn)
    def schema_not_ready(exc: Exception) -> tuple[dict[str, Any], int]:
        log.warning("schema not migrated: %s", exc)
        return _error(503, "the database schema is being migrated; retry later")

    @app.errorhandler(BotoCoreError)
    @app.errorhandler(ClientError)
    @app.errorhandler(jwt.PyJWKClientConnectionError)
    def aws_unreachable(exc: Exception) -> tuple[dict[str, Any], int]:
        log.warning("AWS or the token issuer unreachable: %s", exc)
        return _error(503, "a dependency is unavailable; retry later")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[dict[str, Any], int]:
        log.exception("unhandled error")
        return _error(500, "internal error")

    return app
