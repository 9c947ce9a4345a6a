"""The web tier (apps/web) against a real PostgreSQL: the app, its migration function, its role.

The database comes from TEST_DATABASE_URL (`.ci/run` installs PostgreSQL from Debian packages,
starts it on loopback and exports it; its role has CREATEROLE, as the RDS master user has).
Without it the tests skip locally, and fail in CI (CI=true), where a missing database means a
broken pipeline, not a reason to pass.

The migration function (apps/web/migrate.py) runs as the URL's role with its credentials in a
moto secret, as it runs with the master secret on RDS, and creates the application role; the app
then logs in as that role (with a password here, with IAM tokens on RDS). The tests share one
database and create cluster-wide roles named after it, so they live in this one module, which
`make test` (`--dist loadfile`) runs on a single worker.

Between the app and PostgreSQL sits a small TCP relay the tests can cut, so "the database is
down" is a real refused connection rather than a mocked exception. Tokens are signed with a test
RSA key whose JWKS a local HTTP server publishes.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from psycopg import errors, sql

from components.multi_tier.component import APP_DB_USER, LIVENESS_PATH
from tools.offline import ROOT

APP_DIR = ROOT / "apps" / "web"
REGION = "eu-west-1"
IN_CI = os.environ.get("CI", "").lower() == "true"
APP_PASSWORD = "app-" + os.urandom(8).hex()


def _load(name: str, alias: str) -> ModuleType:
    # The app's modules import each other by plain name (`import database`), as on the instance.
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    spec = importlib.util.spec_from_file_location(alias, APP_DIR / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic look their module up by name
    spec.loader.exec_module(module)
    return module


web = _load("app", "web_app")
migrate = _load("migrate", "web_migrate")
database = sys.modules["database"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must provide PostgreSQL for the web-tier tests: {reason}")
    pytest.skip(f"no PostgreSQL for the web-tier tests ({reason}); .ci/run shows how to start one")


@pytest.fixture(scope="module")
def conninfo() -> dict[str, Any]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        _unavailable("TEST_DATABASE_URL is not set")
    info = psycopg.conninfo.conninfo_to_dict(url)
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        _unavailable(f"cannot connect to TEST_DATABASE_URL: {exc}")
    return info


@pytest.fixture(scope="module")
def app_role(conninfo: dict[str, Any]) -> Iterator[str]:
    """A role name of this test database's own (roles are cluster-wide), dropped at the end."""
    role = f"{conninfo['dbname']}_{APP_DB_USER}"[:63]
    yield role
    with _admin(conninfo) as conn:
        conn.execute("DROP TABLE IF EXISTS items, schema_migrations")
        _drop_role(conn, role)


def _drop_role(conn: psycopg.Connection, role: str) -> None:
    """Drop `role` if it exists, with whatever grants an earlier (interrupted) run left it."""
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        name = sql.Identifier(role)
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(name))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(name))
        conn.execute(sql.SQL("DROP ROLE {}").format(name))


class Relay:
    """A TCP relay in front of PostgreSQL; `cut()` drops every connection and refuses new ones."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._up = True
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._up = False
        with self._lock:
            for s in self._open:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self.cut()
        self._server.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


@pytest.fixture
def relay(conninfo: dict[str, Any]) -> Iterator[Relay]:
    r = Relay(conninfo.get("host", "127.0.0.1"), int(conninfo.get("port", 5432)))
    yield r
    r.close()


def _admin(conninfo: dict[str, Any]) -> psycopg.Connection:
    return psycopg.connect(**conninfo, autocommit=True)


@pytest.fixture
def empty_db(conninfo: dict[str, Any], app_role: str) -> dict[str, Any]:
    with _admin(conninfo) as conn:
        conn.execute("DROP TABLE IF EXISTS items, schema_migrations")
    return conninfo


def _run_migration(conninfo: dict[str, Any], role: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The migration function's handler, with the test role's credentials as its master secret."""
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"rds!db-{os.urandom(4).hex()}",
        SecretString=json.dumps({"username": conninfo["user"], "password": conninfo.get("password", "")}),
    )
    for key, value in {
        "DB_SECRET_ARN": secret["ARN"],
        "DB_HOST": conninfo.get("host", "127.0.0.1"),
        "DB_PORT": str(conninfo.get("port", 5432)),
        "DB_NAME": conninfo["dbname"],
        "DB_USER": role,
        "DB_SSLMODE": "prefer",
        "RDS_CA_BUNDLE_URL": "https://truststore.invalid/global-bundle.pem",
    }.items():
        monkeypatch.setenv(key, value)
    return migrate.handler({"reason": "test"}, None)


def _login(conn: psycopg.Connection, role: str) -> None:
    """On RDS the application role logs in with IAM tokens; here with a password the test sets."""
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(APP_PASSWORD)))


@pytest.fixture
def migrated(empty_db: dict[str, Any], app_role: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The schema migrated and the application role created by the migration function's handler."""
    result = _run_migration(empty_db, app_role, monkeypatch)
    with _admin(empty_db) as conn:
        _login(conn, app_role)
    return result


@pytest.fixture
def db(conninfo: dict[str, Any], app_role: str) -> dict[str, Any]:
    """A migrated schema with the application role and no items (migrated once, then emptied)."""
    with psycopg.connect(**conninfo) as conn:
        database.migrate(conn)
        database.grant_application_role(conn, app_role)
        _login(conn, app_role)
        conn.execute("TRUNCATE items RESTART IDENTITY")
    return conninfo


# --- tokens ----------------------------------------------------------------------------------------

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key-1"


class Jwks:
    """The issuer's JWKS, served on loopback as Cognito serves it at .well-known/jwks.json."""

    def __init__(self) -> None:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
        body = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.close()


def token(key: Any = KEY, kid: str | None = KID, algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "client_id": CLIENT_ID, "token_use": "access", "iat": now, "exp": now + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


# --- the app ----------------------------------------------------------------------------------------


def _settings(conninfo: dict[str, Any], role: str, port: int, **extra: Any) -> Any:
    return web.Settings(
        dbname=conninfo["dbname"], user=role, region=REGION, host="127.0.0.1", port=port, sslmode="prefer", **extra
    )


@pytest.fixture
def settings_(db: dict, app_role: str, relay: Relay) -> Any:
    return _settings(db, app_role, relay.port)


@pytest.fixture
def app(settings_: Any) -> Any:
    return web.create_app(settings_, password=lambda host, port: APP_PASSWORD)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def secured(db: dict, app_role: str, relay: Relay, jwks: Jwks) -> Any:
    """The app as staging and prod run it: writes need a token of ISSUER for CLIENT_ID."""
    s = _settings(
        db,
        app_role,
        relay.port,
        write_auth="jwt",
        jwt_issuer=ISSUER,
        jwt_audiences=(CLIENT_ID,),
        jwt_jwks_uri=jwks.uri,
    )
    return web.create_app(s, password=lambda host, port: APP_PASSWORD).test_client()


def _rows(conninfo: dict[str, Any]) -> list[tuple]:
    with _admin(conninfo) as conn:
        return conn.execute("SELECT id, name, quantity, created_at, updated_at FROM items ORDER BY id").fetchall()


def _names(conninfo: dict[str, Any]) -> list[tuple]:
    return [(name, quantity) for _, name, quantity, _, _ in _rows(conninfo)]


def _parallel(n: int, call: Any) -> list[Any]:
    """Run `call(i)` on n threads released together, to make the requests really overlap."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


# --- health: liveness never touches the database, readiness does --------------------------------------


def test_the_target_group_checks_the_path_the_app_serves_as_liveness(client: Any) -> None:
    response = client.get(LIVENESS_PATH)
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert web.LIVENESS_PATH == LIVENESS_PATH


def test_liveness_stays_200_and_readiness_turns_503_while_the_database_is_away(
    client: Any, relay: Relay, db: dict
) -> None:
    assert client.post("/items", json={"name": "kept", "quantity": 1}).status_code == 201
    assert client.get(web.READINESS_PATH).json == {"status": "ok", "schemaVersion": len(database.MIGRATIONS)}

    relay.cut()
    assert client.get(LIVENESS_PATH).status_code == 200, "a database blip must not fail the ALB's check"
    down = client.get(web.READINESS_PATH)
    assert (down.status_code, down.json) == (503, {"status": "unavailable"})
    for response in (client.get("/items"), client.post("/items", json={"name": "lost", "quantity": 1})):
        assert response.status_code == 503
        assert "unavailable" in response.json["message"]

    relay.restore()
    assert client.get(web.READINESS_PATH).status_code == 200
    assert [i["name"] for i in client.get("/items").json["items"]] == ["kept"]
    assert _names(db) == [("kept", 1)]


def test_the_app_starts_without_its_database_and_is_live_but_not_ready(
    empty_db: dict, app_role: str, relay: Relay, aws_env: None
) -> None:
    relay.cut()
    client = web.create_app(_settings(empty_db, app_role, relay.port), password=lambda h, p: APP_PASSWORD).test_client()
    assert client.get(LIVENESS_PATH).status_code == 200
    assert client.get(web.READINESS_PATH).status_code == 503


def test_before_the_migration_ran_the_app_is_not_ready_and_answers_503_not_500(
    empty_db: dict, app_role: str, relay: Relay, aws_env: None, conninfo: dict
) -> None:
    # A first deployment: the instances may be up before the migration function has run. The
    # role exists (a previous run) but the tables do not.
    with _admin(conninfo) as conn:
        conn.execute(
            sql.SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN "
                "CREATE ROLE {} LOGIN; END IF; END $$"
            ).format(sql.Literal(app_role), sql.Identifier(app_role))
        )
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(app_role), sql.Literal(APP_PASSWORD)))
    client = web.create_app(_settings(empty_db, app_role, relay.port), password=lambda h, p: APP_PASSWORD).test_client()
    ready = client.get(web.READINESS_PATH)
    assert (ready.status_code, ready.json["status"]) == (503, "migrating")
    assert client.get("/items").status_code == 503
    assert client.post("/items", json={"name": "early", "quantity": 1}).status_code == 503


def test_the_endpoint_is_found_from_the_instance_identifier(aws_env: None) -> None:
    # The launch template names the database by identifier only, so instances never wait for it.
    rds = boto3.client("rds", region_name=REGION)
    s = web.Settings(dbname="app", user=APP_DB_USER, region=REGION, instance_id="aws-patterns-prod-multi-tier")
    db = web.Database(s)
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        db.endpoint()  # not created yet: the app answers 503 meanwhile (see the next test)
    rds.create_db_instance(
        DBInstanceIdentifier="aws-patterns-prod-multi-tier",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="app_admin",
        MasterUserPassword="not-used-here",
    )
    host, port = db.endpoint()
    assert host.startswith("aws-patterns-prod-multi-tier.") and port == 5432


def test_a_database_that_does_not_exist_yet_is_503_and_liveness_stays_up(aws_env: None) -> None:
    s = web.Settings(dbname="app", user=APP_DB_USER, region=REGION, instance_id="not-created-yet")
    client = web.create_app(s).test_client()
    assert client.get(LIVENESS_PATH).status_code == 200
    assert client.get(web.READINESS_PATH).status_code == 503
    assert client.get("/items").status_code == 503


def test_the_app_logs_in_with_an_iam_token_for_its_own_user(aws_env: None) -> None:
    s = web.Settings(dbname="app", user=APP_DB_USER, region=REGION, host="db.example.internal", port=5432)
    token_ = web.Database(s)._password("db.example.internal", 5432)
    query = urllib.parse.parse_qs(token_.split("?", 1)[1])
    assert token_.startswith("db.example.internal:5432/?")
    assert query["Action"] == ["connect"] and query["DBUser"] == [APP_DB_USER]
    assert "X-Amz-Signature" in query


def test_the_rds_ca_bundle_is_fetched_once_over_https_and_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    class Response:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *args: Any) -> None:
            pass

        def read(self) -> bytes:
            return self.body

    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    monkeypatch.setattr(database.urllib.request, "urlopen", lambda url, timeout: calls.append(url) or Response(pem))
    target = tmp_path / "state" / "rds-ca.pem"
    assert database.ca_bundle(target, "https://truststore.example/global-bundle.pem") == target
    assert database.ca_bundle(target, "https://truststore.example/global-bundle.pem") == target
    assert target.read_bytes() == pem and len(calls) == 1
    with pytest.raises(ValueError, match="HTTPS"):
        database.ca_bundle(tmp_path / "other.pem", "http://truststore.example/global-bundle.pem")
    monkeypatch.setattr(database.urllib.request, "urlopen", lambda url, timeout: Response(b"<html>captive</html>"))
    with pytest.raises(ValueError, match="PEM"):
        database.ca_bundle(tmp_path / "bad.pem", "https://truststore.example/global-bundle.pem")
    assert not (tmp_path / "bad.pem").exists()


# --- the application role: least privilege, proven on PostgreSQL --------------------------------------


def _as_app(conninfo: dict[str, Any], role: str) -> psycopg.Connection:
    return psycopg.connect(**{**conninfo, "user": role, "password": APP_PASSWORD}, autocommit=True)


def test_the_migration_function_creates_the_role_and_applies_the_schema_once(
    migrated: dict, empty_db: dict, app_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert migrated == {"applied": len(database.MIGRATIONS), "schemaVersion": len(database.MIGRATIONS),
                        "applicationRole": app_role}  # fmt: skip
    assert _run_migration(empty_db, app_role, monkeypatch)["applied"] == 0, "a second deployment changes nothing"
    with _admin(empty_db) as conn:
        attributes = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s",
            (app_role,),
        ).fetchone()
    assert attributes == (True, False, False, False, False)


def test_the_application_role_reads_and_writes_its_table(db: dict, app_role: str) -> None:
    with _as_app(db, app_role) as conn:
        (item_id,) = conn.execute("INSERT INTO items (name, quantity) VALUES ('a', 1) RETURNING id").fetchone()
        conn.execute("UPDATE items SET quantity = 2 WHERE id = %s", (item_id,))
        assert conn.execute("SELECT quantity FROM items WHERE id = %s", (item_id,)).fetchone() == (2,)
        conn.execute("DELETE FROM items WHERE id = %s", (item_id,))
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (len(database.MIGRATIONS),)


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE items",
        "DROP TABLE schema_migrations",
        "CREATE ROLE intruder LOGIN",
        "CREATE TABLE stash (id int)",
        "TRUNCATE items",
        "ALTER TABLE items ADD COLUMN note text",
        "DELETE FROM schema_migrations",
        "INSERT INTO schema_migrations (version) VALUES (999)",
        "ALTER ROLE CURRENT_USER CREATEDB",
    ],
)
def test_the_application_role_cannot_change_schema_roles_or_history(db: dict, app_role: str, statement: str) -> None:
    with _as_app(db, app_role) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)
    with _admin(db) as conn:
        assert conn.execute("SELECT to_regclass('items') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'intruder'").fetchone() == (0,)


def test_on_rds_the_role_joins_rds_iam_so_it_logs_in_with_iam_tokens_only(db: dict, app_role: str) -> None:
    iam_role = f"{db['dbname']}_rds_iam"[:63]  # a stand-in for RDS's rds_iam in this cluster
    with _admin(db) as conn:
        _drop_role(conn, iam_role)
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(iam_role)))
        try:
            database.grant_application_role(conn, app_role, iam_role=iam_role)
            member = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (app_role, iam_role)).fetchone()
            assert member == (True,)
        finally:
            _drop_role(conn, iam_role)


def test_a_role_of_that_name_with_more_power_is_refused(db: dict, app_role: str) -> None:
    risky = f"{db['dbname']}_risky"[:63]
    with _admin(db) as conn:
        _drop_role(conn, risky)
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(risky)))
        try:
            with pytest.raises(database.UnsafeRoleError, match="createrole"):
                database.grant_application_role(conn, risky)
            privileges = conn.execute("SELECT has_table_privilege(%s, 'items', 'INSERT')", (risky,)).fetchone()
            assert privileges == (False,), "refused before anything was granted"
        finally:
            _drop_role(conn, risky)


def test_migrations_apply_once_even_when_started_together(empty_db: dict) -> None:
    def run(_: int) -> int:
        with psycopg.connect(**empty_db) as conn:
            return database.migrate(conn)

    applied = _parallel(4, run)
    assert sorted(applied) == [0, 0, 0, len(database.MIGRATIONS)]
    with _admin(empty_db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, len(database.MIGRATIONS) + 1))


# --- authenticated writes ---------------------------------------------------------------------------


def test_anonymous_writes_are_401_and_write_nothing_while_reads_stay_open(secured: Any, db: dict) -> None:
    created = secured.post("/items", json={"name": "mine", "quantity": 1}, headers=bearer(token()))
    assert created.status_code == 201
    path = created.headers["Location"]
    for response in (
        secured.post("/items", json={"name": "anon", "quantity": 1}),
        secured.put(path, json={"name": "anon", "quantity": 2}),
        secured.delete(path),
        secured.post("/items", data="not json", content_type="text/plain"),  # auth is checked first
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert secured.get("/items").status_code == 200 and secured.get(path).status_code == 200
    assert _names(db) == [("mine", 1)]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="not-bearer"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("Bearer not.a.jwt", id="garbage"),
        pytest.param(f"Bearer {token(key=OTHER_KEY)}", id="bad-signature"),
        pytest.param(f"Bearer {token(iss='https://evil.example.com')}", id="other-issuer"),
        pytest.param(f"Bearer {token(client_id='another-client')}", id="other-client"),
        pytest.param(f"Bearer {token(client_id=None, aud='another-client')}", id="other-audience"),
        pytest.param(f"Bearer {token(client_id=None)}", id="no-audience"),
        pytest.param(f"Bearer {token(exp=int(time.time()) - 120)}", id="expired"),
        pytest.param(f"Bearer {token(exp=None)}", id="no-expiry"),
        pytest.param(f"Bearer {token(nbf=int(time.time()) + 3600)}", id="not-yet-valid"),
        pytest.param(f"Bearer {token(kid='unknown-kid')}", id="unknown-key"),
        pytest.param(f"Bearer {token(kid=None)}", id="no-key-id"),
        pytest.param(f"Bearer {token(key='shared-secret-0123456789abcdef0123', algorithm='HS256')}", id="hs256"),
        pytest.param(
            f"Bearer {jwt.encode({'iss': ISSUER, 'client_id': CLIENT_ID}, None, algorithm='none')}", id="alg-none"
        ),
    ],
)
def test_invalid_tokens_are_401_and_write_nothing(secured: Any, db: dict, authorization: str) -> None:
    response = secured.post("/items", json={"name": "x", "quantity": 1}, headers={"Authorization": authorization})
    assert response.status_code == 401, response.json
    assert _names(db) == []


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="cognito-access-token"),
        pytest.param({"client_id": None, "aud": CLIENT_ID, "token_use": "id"}, id="id-token"),
        pytest.param({"client_id": None, "aud": ["other", CLIENT_ID]}, id="audience-list"),
    ],
)
def test_valid_tokens_may_write(secured: Any, db: dict, claims: dict) -> None:
    headers = bearer(token(**claims))
    created = secured.post("/items", json={"name": "ok", "quantity": 1}, headers=headers)
    assert created.status_code == 201
    path = created.headers["Location"]
    assert secured.put(path, json={"name": "ok", "quantity": 2}, headers=headers).status_code == 200
    assert _names(db) == [("ok", 2)]
    assert secured.delete(path, headers=headers).status_code == 204


def test_an_unreachable_issuer_is_503_not_401_or_500(db: dict, app_role: str, relay: Relay) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    s = _settings(
        db,
        app_role,
        relay.port,
        write_auth="jwt",
        jwt_issuer=ISSUER,
        jwt_audiences=(CLIENT_ID,),
        jwt_jwks_uri=f"http://127.0.0.1:{port}/jwks.json",
    )
    client = web.create_app(s, password=lambda h, p: APP_PASSWORD).test_client()
    response = client.post("/items", json={"name": "x", "quantity": 1}, headers=bearer(token()))
    assert response.status_code == 503
    assert _names(db) == []


@pytest.mark.parametrize(
    "extra",
    [
        {"write_auth": "jwt"},
        {"write_auth": "jwt", "jwt_issuer": ISSUER, "jwt_jwks_uri": "https://x/jwks"},
        {"write_auth": "maybe"},
    ],
)
def test_settings_refuse_half_configured_authentication(extra: dict) -> None:
    with pytest.raises(ValueError, match="WRITE_AUTH"):
        web.Settings(dbname="app", user="u", region=REGION, host="h", **extra)


# --- CRUD ------------------------------------------------------------------------------------------


def test_crud_round_trip(client: Any, db: dict) -> None:
    created = client.post("/items", json={"name": "  widget ", "quantity": 3})
    assert created.status_code == 201
    item = created.json
    assert item["name"] == "widget"  # surrounding whitespace is not part of a name
    assert created.headers["Location"] == f"/items/{item['id']}"
    assert client.get(created.headers["Location"]).json == item

    replaced = client.put(f"/items/{item['id']}", json={"name": "gadget", "quantity": 0})
    assert replaced.status_code == 200
    assert (replaced.json["name"], replaced.json["quantity"]) == ("gadget", 0)
    assert replaced.json["createdAt"] == item["createdAt"]
    assert _names(db) == [("gadget", 0)]

    assert client.delete(f"/items/{item['id']}").status_code == 204
    assert client.get(f"/items/{item['id']}").status_code == 404
    assert client.delete(f"/items/{item['id']}").status_code == 404
    assert _names(db) == []


def test_updated_at_strictly_increases_on_every_put_even_when_the_clock_is_behind(client: Any, db: dict) -> None:
    item = client.post("/items", json={"name": "tick", "quantity": 0}).json
    # A row last written by a clock that ran ahead (or an NTP step back since): now() is earlier.
    with _admin(db) as conn:
        conn.execute("UPDATE items SET updated_at = now() + interval '1 hour' WHERE id = %s", (item["id"],))
    stamps = [client.get(f"/items/{item['id']}").json["updatedAt"]]
    for quantity in range(1, 6):
        stamps.append(client.put(f"/items/{item['id']}", json={"name": "tick", "quantity": quantity}).json["updatedAt"])
    parsed = [datetime.fromisoformat(s) for s in stamps]
    assert all(a < b for a, b in itertools.pairwise(parsed)), stamps


def test_paging_stays_ordered_by_id_after_updates(client: Any) -> None:
    ids = [client.post("/items", json={"name": f"item-{i}", "quantity": 1}).json["id"] for i in range(6)]
    # Updated rows move to the end of the table's storage: only ORDER BY id keeps pages in order.
    for item_id in ids[:3]:
        assert client.put(f"/items/{item_id}", json={"name": f"renamed-{item_id}", "quantity": 2}).status_code == 200
    seen, after = [], 0
    while after is not None:
        page = client.get(f"/items?limit=2&after={after}")
        assert page.status_code == 200
        assert len(page.json["items"]) <= 2
        seen += [i["id"] for i in page.json["items"]]
        after = page.json["next"]
    assert seen == sorted(ids)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1e3", "after=-5", "after=x", f"after={'9' * 400}"]
)
def test_bad_paging_parameters_are_400(client: Any, query: str) -> None:
    response = client.get(f"/items?{query}")
    assert response.status_code == 400
    assert "limit" in response.json["message"]


GOOD = {"name": "ok", "quantity": 1}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1}, "name"),
        ({"name": "   ", "quantity": 1}, "name"),
        ({"name": "x" * 201, "quantity": 1}, "name"),
        ({"name": "nul\x00byte", "quantity": 1}, "name"),
        ({"name": "line\nbreak", "quantity": 1}, "name"),
        ({"name": 42, "quantity": 1}, "name"),
        ({"name": "ok"}, "quantity"),
        ({"name": "ok", "quantity": -1}, "quantity"),
        ({"name": "ok", "quantity": 2**31}, "quantity"),
        ({"name": "ok", "quantity": "3"}, "quantity"),
        ({"name": "ok", "quantity": "three"}, "quantity"),
        ({"name": "ok", "quantity": 1.5}, "quantity"),
        ({"name": "ok", "quantity": True}, "quantity"),
        ({"name": "ok", "quantity": None}, "quantity"),
        ({**GOOD, "id": 7}, "id"),
    ],
)
def test_invalid_items_are_422_naming_the_field_and_write_nothing(
    client: Any, db: dict, body: dict, field: str
) -> None:
    existing = client.post("/items", json={"name": "existing", "quantity": 1}).json
    for response in (client.post("/items", json=body), client.put(f"/items/{existing['id']}", json=body)):
        assert response.status_code == 422
        assert response.json["message"] == "invalid item"
        assert field in [e["field"] for e in response.json["errors"]]
    assert _names(db) == [("existing", 1)]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ('{"name": "ok", "quantity": 1}', "text/plain", 415),
        ("name=ok&quantity=1", "application/x-www-form-urlencoded", 415),
        ('{"name": "ok", ', "application/json", 400),
        ('[{"name": "ok", "quantity": 1}]', "application/json", 400),
        ("null", "application/json", 400),
        ('"ok"', "application/json", 400),
        ("42", "application/json", 400),
        ("", "application/json", 400),
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected(
    client: Any, db: dict, data: str, content_type: str, status: int
) -> None:
    existing = client.post("/items", json={"name": "existing", "quantity": 1}).json
    for response in (
        client.post("/items", data=data, content_type=content_type),
        client.put(f"/items/{existing['id']}", data=data, content_type=content_type),
    ):
        assert response.status_code == status
        assert response.is_json and response.json["message"]
    assert _names(db) == [("existing", 1)]


@pytest.mark.parametrize(
    "raw",
    [
        "999999",
        str(2**63 - 1),
        str(2**63),
        str(2**70),
        "9" * 5000,
        "0",
        "-1",
        "007",
        "1.5",
        "abc",
        "%00",
        "%EF%BC%91",  # a full-width digit one
        "1/2",
        "1%20",
        "x" * 3000,
    ],
)
def test_ids_of_any_length_or_content_are_404_never_5xx(client: Any, db: dict, raw: str) -> None:
    path = f"/items/{raw}"
    for response in (client.get(path), client.put(path, json=GOOD), client.delete(path)):
        assert response.status_code == 404, (path[:60], response.status_code)
        assert response.json["message"].startswith("no item")
    assert _names(db) == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/nope", 404), ("patch", "/items", 405), ("post", "/items/1", 405)],
)
def test_unknown_routes_and_methods_answer_json(client: Any, method: str, path: str, status: int) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.json["message"]


# --- duplicates and concurrency -------------------------------------------------------------------


def test_a_duplicate_name_is_409_and_not_a_second_row(client: Any, db: dict) -> None:
    assert client.post("/items", json={"name": "dup", "quantity": 1}).status_code == 201
    again = client.post("/items", json={"name": "dup", "quantity": 1})
    assert again.status_code == 409
    assert "dup" in again.json["message"]
    assert _names(db) == [("dup", 1)]


def test_concurrent_creates_of_one_name_make_exactly_one_row(app: Any, db: dict) -> None:
    statuses = _parallel(
        8, lambda i: app.test_client().post("/items", json={"name": "race", "quantity": i}).status_code
    )
    assert sorted(statuses) == [201] + [409] * 7
    assert len(_rows(db)) == 1


def test_concurrent_renames_to_one_name_let_exactly_one_win(app: Any, client: Any, db: dict) -> None:
    ids = [client.post("/items", json={"name": f"old{i}", "quantity": 1}).json["id"] for i in range(4)]
    statuses = _parallel(
        4, lambda i: app.test_client().put(f"/items/{ids[i]}", json={"name": "taken", "quantity": 1}).status_code
    )
    assert sorted(statuses) == [200, 409, 409, 409]
    assert sorted(name for name, _ in _names(db)).count("taken") == 1


# --- any client input: a 4xx at worst, and a 4xx writes nothing ----------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=8,
)
_bodies = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(st.text(max_size=220), _json), "quantity": st.one_of(st.integers(), _json)},
        optional={"extra": _json},
    ),
    _json,
)
_ids = st.one_of(st.integers(min_value=-5, max_value=2**70).map(str), st.text(min_size=1, max_size=40))
_requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
        "path": st.one_of(
            st.just("/items"),
            _ids.map(lambda i: "/items/" + urllib.parse.quote(i, safe="")),
            st.text(max_size=20).map(lambda t: "/" + urllib.parse.quote(t, safe="/")),
        ),
        "query": st.dictionaries(st.sampled_from(["limit", "after", "x"]), st.text(max_size=25), max_size=2),
        "body": st.one_of(_bodies.map(json.dumps), st.text(max_size=50), st.none()),
        "content_type": st.sampled_from(["application/json", "text/plain", None]),
        "auth": st.sampled_from(["valid", "none", "garbage", "expired"]),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=_requests)
def test_any_request_is_answered_below_500_and_a_4xx_writes_nothing(secured: Any, db: dict, request: dict) -> None:
    headers = {
        "valid": bearer(token()),
        "none": {},
        "garbage": bearer("x.y.z"),
        "expired": bearer(token(exp=int(time.time()) - 600)),
    }[request["auth"]]
    before = _rows(db)
    response = secured.open(
        request["path"],
        method=request["method"],
        query_string=request["query"],
        data=request["body"],
        content_type=request["content_type"],
        headers=headers,
    )
    assert response.status_code < 500, (request, response.get_data(as_text=True)[:200])
    if response.status_code >= 400:
        assert _rows(db) == before, request


# --- packaging ---------------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip().rstrip("\\").strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.split("[")[0].lower()] = version
    return pins


def test_the_instances_install_the_versions_the_tests_ran() -> None:
    deployed = _pins(APP_DIR / "requirements.txt")
    locked = _pins(APP_DIR / "requirements.lock")
    tested = {**_pins(ROOT / "requirements.txt"), **_pins(ROOT / "requirements-dev.txt")}
    assert {"flask", "psycopg", "pydantic", "boto3", "gunicorn", "pyjwt", "cryptography"} <= deployed.keys()
    for package in ("flask", "psycopg", "pydantic", "boto3", "pyjwt", "cryptography"):
        assert deployed[package] == tested[package], package
    for package, version in deployed.items():
        assert locked[package] == version, f"requirements.lock is stale for {package}: regenerate it"
