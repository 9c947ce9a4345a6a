"""The web tier (apps/web/app.py) against a real PostgreSQL, with its secret in moto.

The database comes from TEST_DATABASE_URL (`.ci/run` installs PostgreSQL from Debian packages,
starts it on loopback and exports it). Without it the tests skip locally, and fail in CI
(CI=true), where a missing database means a broken pipeline, not a reason to pass.

The tests share one database and role (one changes the role's password), so they live in this
one module, which `make test` (`pytest -n auto --dist loadfile`) runs on a single worker.

Between the app and PostgreSQL sits a small TCP relay the tests can cut, so "the database is
down" is a real refused connection rather than a mocked exception.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg import sql

from components.multi_tier.component import HEALTH_PATH
from tools.offline import ROOT

APP_DIR = ROOT / "apps" / "web"
REGION = "eu-west-1"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_app", APP_DIR / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic look their module up by name
    spec.loader.exec_module(module)
    return module


web = _load_app()


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
def empty_db(conninfo: dict[str, Any]) -> dict[str, Any]:
    with _admin(conninfo) as conn:
        conn.execute("DROP TABLE IF EXISTS items, schema_migrations")
    return conninfo


@pytest.fixture
def settings(empty_db: dict[str, Any], relay: Relay, aws_env: None) -> Any:
    """App settings reaching the test database through the relay, credentials in a moto secret."""
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="rds!db-test",
        SecretString=json.dumps({"username": empty_db["user"], "password": empty_db.get("password", "")}),
    )
    return web.Settings(
        host="127.0.0.1",
        port=relay.port,
        dbname=empty_db["dbname"],
        secret_arn=secret["ARN"],
        region=REGION,
        sslmode="prefer",
    )


@pytest.fixture
def app(settings: Any) -> Any:
    return web.create_app(settings)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def _rows(conninfo: dict[str, Any]) -> list[tuple]:
    with _admin(conninfo) as conn:
        return conn.execute("SELECT name, quantity FROM items ORDER BY id").fetchall()


def _parallel(n: int, call: Any) -> list[Any]:
    """Run `call(i)` on n threads released together, to make the requests really overlap."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


# --- health ------------------------------------------------------------------------------------


def test_the_target_group_health_path_is_served_and_healthy(client: Any) -> None:
    response = client.get(HEALTH_PATH)
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_health_turns_503_when_the_database_goes_away_and_recovers(client: Any, relay: Relay, empty_db: dict) -> None:
    assert client.post("/items", json={"name": "kept", "quantity": 1}).status_code == 201
    assert client.get(HEALTH_PATH).status_code == 200

    relay.cut()
    down = client.get(HEALTH_PATH)
    assert down.status_code == 503
    assert down.json == {"status": "unavailable"}
    for response in (client.get("/items"), client.post("/items", json={"name": "lost", "quantity": 1})):
        assert response.status_code == 503
        assert "unavailable" in response.json["message"]

    relay.restore()
    assert client.get(HEALTH_PATH).status_code == 200
    assert [i["name"] for i in client.get("/items").json["items"]] == ["kept"]
    assert _rows(empty_db) == [("kept", 1)]


def test_the_app_refuses_to_start_without_its_database(settings: Any, relay: Relay) -> None:
    # systemd restarts it (Restart=always) until the database answers and the migration runs.
    relay.cut()
    with pytest.raises(psycopg.OperationalError):
        web.create_app(settings)


@contextmanager
def _password_changed(conninfo: dict[str, Any], new: str) -> Iterator[None]:
    """Change the test role's password in PostgreSQL, as a rotation does, and put it back."""
    with _admin(conninfo) as conn:
        conn.execute(sql.SQL("ALTER ROLE CURRENT_USER PASSWORD {}").format(sql.Literal(new)))
    try:
        yield
    finally:
        with psycopg.connect(**{**conninfo, "password": new}, autocommit=True) as conn:
            old = sql.Literal(conninfo.get("password", ""))
            conn.execute(sql.SQL("ALTER ROLE CURRENT_USER PASSWORD {}").format(old))


def test_a_rotated_password_is_picked_up_from_the_secret(client: Any, settings: Any, empty_db: dict) -> None:
    # RDS rotates its managed master secret by itself: the app must follow without a restart.
    assert client.get(HEALTH_PATH).status_code == 200  # credentials now cached
    new = "rotated-" + os.urandom(6).hex()
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=settings.secret_arn, SecretString=json.dumps({"username": empty_db["user"], "password": new})
    )
    with _password_changed(empty_db, new):
        assert client.get(HEALTH_PATH).status_code == 200
        assert client.post("/items", json={"name": "after-rotation", "quantity": 2}).status_code == 201


def test_refused_password_and_unreadable_secret_is_503_not_500(client: Any, settings: Any, empty_db: dict) -> None:
    assert client.get(HEALTH_PATH).status_code == 200
    boto3.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=settings.secret_arn, ForceDeleteWithoutRecovery=True
    )
    with _password_changed(empty_db, "rotated-" + os.urandom(6).hex()):
        assert client.get(HEALTH_PATH).status_code == 503
        listing = client.get("/items")
        assert listing.status_code == 503
        assert "credentials" in listing.json["message"]


# --- CRUD --------------------------------------------------------------------------------------


def test_crud_round_trip(client: Any, empty_db: dict) -> None:
    created = client.post("/items", json={"name": "  widget ", "quantity": 3})
    assert created.status_code == 201
    item = created.json
    assert item["name"] == "widget"  # surrounding whitespace is not part of a name
    assert created.headers["Location"] == f"/items/{item['id']}"
    assert client.get(created.headers["Location"]).json == item

    replaced = client.put(f"/items/{item['id']}", json={"name": "gadget", "quantity": 0})
    assert replaced.status_code == 200
    assert (replaced.json["name"], replaced.json["quantity"]) == ("gadget", 0)
    assert replaced.json["updatedAt"] >= item["updatedAt"]
    assert _rows(empty_db) == [("gadget", 0)]

    assert client.delete(f"/items/{item['id']}").status_code == 204
    assert client.get(f"/items/{item['id']}").status_code == 404
    assert client.delete(f"/items/{item['id']}").status_code == 404
    assert _rows(empty_db) == []


def test_listing_pages_through_every_item_once(client: Any) -> None:
    names = [f"item-{i}" for i in range(5)]
    for name in names:
        assert client.post("/items", json={"name": name, "quantity": 1}).status_code == 201
    seen, after = [], 0
    while after is not None:
        page = client.get(f"/items?limit=2&after={after}")
        assert page.status_code == 200
        assert len(page.json["items"]) <= 2
        seen += [i["name"] for i in page.json["items"]]
        after = page.json["next"]
    assert seen == names


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1e3", "after=-5", "after=x"])
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
        ({"name": "ok", "quantity": 1.5}, "quantity"),
        ({"name": "ok", "quantity": True}, "quantity"),
        ({"name": "ok", "quantity": None}, "quantity"),
        ({**GOOD, "id": 7}, "id"),
    ],
)
def test_invalid_items_are_400_naming_the_field_and_write_nothing(
    client: Any, empty_db: dict, body: dict, field: str
) -> None:
    existing = client.post("/items", json={"name": "existing", "quantity": 1}).json
    for response in (client.post("/items", json=body), client.put(f"/items/{existing['id']}", json=body)):
        assert response.status_code == 400
        assert response.json["message"] == "invalid item"
        assert field in [e["field"] for e in response.json["errors"]]
    assert _rows(empty_db) == [("existing", 1)]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ('{"name": "ok", "quantity": 1}', "text/plain", 415),
        ("name=ok&quantity=1", "application/x-www-form-urlencoded", 415),
        ('{"name": "ok", ', "application/json", 400),
        ('[{"name": "ok", "quantity": 1}]', "application/json", 400),
        ("null", "application/json", 400),
        ('"ok"', "application/json", 400),
        ("", "application/json", 400),
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected(
    client: Any, empty_db: dict, data: str, content_type: str, status: int
) -> None:
    response = client.post("/items", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.is_json and response.json["message"]
    assert _rows(empty_db) == []


@pytest.mark.parametrize("path", ["/items/999999", f"/items/{2**63}", f"/items/{2**70}"])
def test_missing_items_are_404_for_every_method(client: Any, path: str) -> None:
    assert client.get(path).status_code == 404
    assert client.put(path, json=GOOD).status_code == 404
    assert client.delete(path).status_code == 404
    assert client.get(path).json["message"].startswith("no item")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/items/-1", 404), ("get", "/items/abc", 404), ("get", "/nope", 404), ("patch", "/items", 405)],
)
def test_unknown_routes_and_methods_answer_json(client: Any, method: str, path: str, status: int) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.json["message"]


# --- duplicates and concurrency -------------------------------------------------------------------


def test_a_duplicate_name_is_409_and_not_a_second_row(client: Any, empty_db: dict) -> None:
    assert client.post("/items", json={"name": "dup", "quantity": 1}).status_code == 201
    again = client.post("/items", json={"name": "dup", "quantity": 1})
    assert again.status_code == 409
    assert "dup" in again.json["message"]
    assert _rows(empty_db) == [("dup", 1)]


def test_concurrent_creates_of_one_name_make_exactly_one_row(app: Any, empty_db: dict) -> None:
    statuses = _parallel(
        8, lambda i: app.test_client().post("/items", json={"name": "race", "quantity": i}).status_code
    )
    assert sorted(statuses) == [201] + [409] * 7
    assert len(_rows(empty_db)) == 1


def test_concurrent_creates_of_distinct_names_all_succeed(app: Any, empty_db: dict) -> None:
    responses = _parallel(8, lambda i: app.test_client().post("/items", json={"name": f"n{i}", "quantity": i}))
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json["id"] for r in responses}) == 8
    assert len(_rows(empty_db)) == 8


def test_concurrent_renames_to_one_name_let_exactly_one_win(app: Any, client: Any, empty_db: dict) -> None:
    ids = [client.post("/items", json={"name": f"old{i}", "quantity": 1}).json["id"] for i in range(4)]
    statuses = _parallel(
        4, lambda i: app.test_client().put(f"/items/{ids[i]}", json={"name": "taken", "quantity": 1}).status_code
    )
    assert sorted(statuses) == [200, 409, 409, 409]
    assert sorted(name for name, _ in _rows(empty_db)).count("taken") == 1


# --- migrations --------------------------------------------------------------------------------


def test_migrations_apply_once_even_when_instances_start_together(settings: Any, empty_db: dict) -> None:
    applied = _parallel(4, lambda _: web.Database(settings).migrate())
    assert sorted(applied) == [0, 0, 0, len(web.MIGRATIONS)]
    with _admin(empty_db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, len(web.MIGRATIONS) + 1))
    assert web.Database(settings).migrate() == 0


def test_restart_keeps_the_data(settings: Any, empty_db: dict) -> None:
    first = web.create_app(settings).test_client()
    assert first.post("/items", json=GOOD).status_code == 201
    second = web.create_app(settings).test_client()
    assert [i["name"] for i in second.get("/items").json["items"]] == ["ok"]


# --- packaging ---------------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.split("[")[0].lower()] = version
    return pins


def test_the_instances_install_the_versions_the_tests_ran() -> None:
    deployed = _pins(APP_DIR / "requirements.txt")
    tested = {**_pins(ROOT / "requirements.txt"), **_pins(ROOT / "requirements-dev.txt")}
    assert {"flask", "psycopg", "pydantic", "boto3", "gunicorn"} <= deployed.keys()
    for package in ("flask", "psycopg", "pydantic", "boto3"):
        assert deployed[package] == tested[package], package
