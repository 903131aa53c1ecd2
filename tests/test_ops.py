"""Operations: /metrics (protected), /healthz and /readyz with reasons, 503 with
Retry-After while the database is locked, away or read-only (one log line per
burst), the access log without personal data, JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from hub.core import Hub
from hub.db import transaction
from hub.models import Case, utcnow
from hub.settings import Settings
from tests.conftest import HOTLINE_KEY, on_postgres


def _metric(body: str, name: str, **labels: str) -> float | None:
    for line in body.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


async def _app_client(aiohttp_client: Any, settings: Settings) -> Any:
    from hub.app import create_app

    return await aiohttp_client(create_app(settings))


async def test_metrics_show_requests_queue_pipeline_and_overdue_cases(
        settings: Settings, aiohttp_client: Any) -> None:
    client = await _app_client(aiohttp_client, settings.with_overrides(pipeline_enabled=True))
    hub: Hub = client.app["hub"]
    # counters live for the whole (test) process: compare before and after (read from
    # the registry, so the database gauges' short cache is not filled before the data)
    from prometheus_client import REGISTRY, generate_latest

    before = generate_latest(REGISTRY.restricted_registry([
        "hub_http_requests_total", "hub_http_request_duration_seconds_count",
        "hub_pipeline_cases_opened_total"])).decode()

    def grew(body: str, name: str, **labels: str) -> float:
        return (_metric(body, name, **labels) or 0) - (_metric(before, name, **labels) or 0)

    for i in range(3):
        resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
            "external_id": f"m-{i}", "body": f"A7县星沙街道第{i}号小区燃气泄漏，物业不管"})
        assert resp.status == 201
    for _ in range(100):  # the pipeline running in the app opens the cases
        with hub.sessions() as s:
            if s.query(Case).count() == 3:
                break
        await asyncio.sleep(0.1)
    with transaction(hub.sessions) as s:  # one case is late at zhujian
        s.execute(update(Case).where(Case.id == s.query(Case.id).order_by(Case.id)
                                     .limit(1).scalar_subquery())
                  .values(state="assigned", due_state="overdue", unit_id=hub.unit_ids["zhujian"],
                          deadline_at=utcnow() - timedelta(days=1)))
    await client.get("/api/v1/appeals/abc", headers=HOTLINE_KEY)  # a 404 on a templated route
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    body = await resp.text()
    assert grew(body, "hub_http_requests_total", route="/api/v1/appeals", method="POST",
                status="201") == 3
    assert grew(body, "hub_http_requests_total", route="/api/v1/appeals/{appeal_id}",
                status="404") == 1
    assert grew(body, "hub_http_request_duration_seconds_count", route="/api/v1/appeals",
                method="POST") == 3
    assert grew(body, "hub_pipeline_cases_opened_total") >= 3
    assert _metric(body, "hub_queue_depth") == 0
    assert _metric(body, "hub_queue_oldest_age_seconds") == 0
    assert _metric(body, "hub_cases_overdue", unit="zhujian") == 1
    assert _metric(body, "hub_database_up") == 1
    assert "hub_lease_takeovers_total" in body or "hub_lease_takeovers" in body
    assert "process_resident_memory_bytes" in body  # the standard process metrics too


async def test_queue_depth_and_age_of_the_oldest_waiting_appeal(client: Any) -> None:
    hub: Hub = client.app["hub"]
    for i in range(4):
        await client.post("/api/v1/appeals", headers=HOTLINE_KEY,
                          json={"external_id": f"q-{i}", "body": "A1区某路口红绿灯坏了"})
    with transaction(hub.sessions) as s:
        s.execute(text("UPDATE appeal SET created_at = :t WHERE external_id = 'q-0'"),
                  {"t": utcnow() - timedelta(minutes=20)})
    body = await (await client.get("/metrics")).text()
    assert _metric(body, "hub_queue_depth") == 4
    assert 1190 < (_metric(body, "hub_queue_oldest_age_seconds") or 0) < 1300
    ready = await client.get("/readyz")  # pipeline off here: a stuck queue only degrades
    payload = await ready.json()
    assert ready.status == 200 and payload["status"] == "degraded"
    assert payload["failed"] == ["queue"] and "20 min" in payload["checks"]["queue"]["reason"]


async def test_metrics_are_for_loopback_or_the_token_never_through_a_proxy(
        settings: Settings, aiohttp_client: Any) -> None:
    client = await _app_client(aiohttp_client, settings)
    assert (await client.get("/metrics")).status == 200  # direct, from loopback
    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status == 403 and (await proxied.json())["error"]["code"] == "forbidden"
    token = "t" * 32
    client = await _app_client(aiohttp_client, settings.with_overrides(metrics_token=token))
    assert (await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
            ).status == 403
    assert (await client.get("/metrics", headers={
        "X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {token}"})).status == 200
    assert (await client.get("/metrics", headers={
        "X-Real-IP": "203.0.113.9", "Authorization": "Bearer wrong"})).status == 403


async def test_readiness_checks_with_reasons(client: Any) -> None:
    hub: Hub = client.app["hub"]
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ready", body
    assert {"database", "migrations", "writable", "queue", "jobs"} <= set(body["checks"])
    from hub.health import migration_head

    with transaction(hub.sessions) as s:  # an older schema: the code is ahead of it
        s.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    try:
        resp = await client.get("/readyz")
        body = await resp.json()
        with transaction(hub.sessions) as s:  # a newer release migrated it (rollback)
            s.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        newer = await client.get("/readyz")
        Hub.open(hub.settings).close()  # older code starts on a newer schema
    finally:  # PostgreSQL's test database outlives this test
        with transaction(hub.sessions) as s:
            s.execute(text("UPDATE alembic_version SET version_num = :v"),
                      {"v": migration_head()})
    assert resp.status == 503 and resp.headers["Retry-After"]
    assert body["failed"] == ["migrations"] and "hub init" in body["checks"]["migrations"][
        "reason"]
    assert newer.status == 200
    assert "newer than this code" in (await newer.json())["checks"]["migrations"]["note"]


# -- the database in trouble ---------------------------------------------------------------
class Trouble:
    """Put the test's database into a kind of trouble and take it out again."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.undo: list[Any] = []

    def _admin(self) -> Any:
        return create_engine(self.url.rsplit("/", 1)[0] + "/postgres",
                             isolation_level="AUTOCOMMIT")

    def _kick(self, conn: Any, name: str) -> None:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name})

    def locked(self) -> None:
        """Another client holds the write lock and does not let go."""
        if on_postgres():
            engine = create_engine(self.url)
            conn = engine.connect()
            conn.execute(text("LOCK TABLE appeal IN ACCESS EXCLUSIVE MODE"))
            self.undo.append(lambda: (conn.rollback(), conn.close(), engine.dispose()))
        else:
            conn = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            self.undo.append(lambda: (conn.rollback(), conn.close()))

    def away(self) -> None:
        """PostgreSQL refuses connections and drops the open ones."""
        name = make_url(self.url).database
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            self._kick(conn, name or "")

        def back() -> None:
            with engine.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            engine.dispose()

        self.undo.append(back)

    def read_only(self, hub: Hub) -> None:
        """A failover to a replica (PostgreSQL) or an immutable file (SQLite)."""
        if on_postgres():
            name = make_url(self.url).database
            engine = self._admin()
            with engine.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only '
                                  "= on"))
                self._kick(conn, name or "")

            def back() -> None:
                with engine.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" RESET '
                                      "default_transaction_read_only"))
                    self._kick(conn, name or "")
                engine.dispose()

            self.undo.append(back)
            return
        path = Path(make_url(self.url).database or "")
        with hub.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("making the SQLite file read-only needs chattr and root")
        hub.engine.dispose()  # connections opened from now on find the file read-only
        self.undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))

    def end(self) -> None:
        while self.undo:
            self.undo.pop()()


@pytest.fixture
def trouble(settings: Settings) -> Iterator[Trouble]:
    t = Trouble(settings)
    yield t
    t.end()


def _hub_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("hub")]


async def _post_many(client: Any, n: int, prefix: str) -> list[Any]:
    async def one(i: int) -> Any:
        resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
            "external_id": f"{prefix}-{i}", "body": "A2区某路段下水道堵塞，污水横流"})
        return resp.status, dict(resp.headers), await resp.json()

    return await asyncio.gather(*[one(i) for i in range(n)])


async def test_a_locked_database_answers_503_and_logs_once_per_burst(
        settings: Settings, aiohttp_client: Any, trouble: Trouble,
        caplog: pytest.LogCaptureFixture) -> None:
    client = await _app_client(aiohttp_client, settings.with_overrides(db_timeout_seconds=1))
    caplog.set_level(logging.INFO)
    trouble.locked()
    answers = await _post_many(client, 20, "lock")
    answers += await _post_many(client, 10, "lock2")
    assert {a[0] for a in answers} == {503}
    status, headers, body = answers[0]
    assert body["error"]["code"] == "database_locked" and int(headers["Retry-After"]) > 0
    form = await (await client.get("/submit")).text()  # a citizen's form: a page, not a 500
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    page = await client.post("/submit", data={"csrf": csrf.group(1), "title": "路灯",
                                              "body": "A3区某小区门口路灯不亮已经两周了"})
    assert page.status == 503 and "请稍后再试" in await page.text()
    assert page.headers["Retry-After"]
    records = _hub_records(caplog)
    assert not [r for r in records if r.exc_info], "a traceback was logged for an outage"
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "database_locked" in errors[0].getMessage()
    trouble.end()
    ok = await _post_many(client, 3, "after")
    assert {a[0] for a in ok} == {201}
    recovered = [r for r in _hub_records(caplog) if "works again" in r.getMessage()]
    assert len(recovered) == 1 and "requests or jobs failed" in recovered[0].getMessage()


@pytest.mark.skipif(not on_postgres(), reason="a server that refuses connections: PostgreSQL")
async def test_a_database_outage_answers_503_and_heals(
        settings: Settings, aiohttp_client: Any, trouble: Trouble,
        caplog: pytest.LogCaptureFixture) -> None:
    client = await _app_client(aiohttp_client, settings.with_overrides(db_timeout_seconds=2))
    caplog.set_level(logging.INFO)
    assert (await _post_many(client, 1, "before"))[0][0] == 201
    trouble.away()
    answers = await _post_many(client, 30, "away")
    assert {a[0] for a in answers} == {503}
    assert {a[2]["error"]["code"] for a in answers} == {"database_unavailable"}
    assert all("Retry-After" in a[1] for a in answers)
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["checks"]["database"]["code"] == \
        "database_unavailable"
    assert (await client.get("/healthz")).status == 200  # alive: do not restart it
    records = _hub_records(caplog)
    assert not [r for r in records if r.exc_info]
    assert len([r for r in records if r.levelno >= logging.ERROR]) == 1
    trouble.end()
    assert (await _post_many(client, 1, "healed"))[0][0] == 201  # no restart needed


async def test_readiness_and_intake_on_a_read_only_database(
        settings: Settings, aiohttp_client: Any, trouble: Trouble) -> None:
    client = await _app_client(aiohttp_client, settings.with_overrides(db_timeout_seconds=2))
    trouble.read_only(client.app["hub"])
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and "writable" in body["failed"], body
    assert body["checks"]["writable"]["code"] == "database_read_only"
    assert body["checks"]["database"]["ok"]  # it reads: only writing fails
    status, headers, answer = (await _post_many(client, 1, "ro"))[0]
    assert status == 503 and answer["error"]["code"] == "database_read_only"
    assert int(headers["Retry-After"]) >= 10
    trouble.end()
    client.app["hub"].engine.dispose()
    assert (await client.get("/readyz")).status == 200


# -- logs ------------------------------------------------------------------------------------
async def test_the_access_log_names_routes_not_queries_and_json_lines_are_masked(
        settings: Settings, aiohttp_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import aiohttp

    from hub.app import create_app
    from hub.logs import AccessLogger, configure

    configure(verbose=False, serving=True, log_format="json")
    try:
        server = await aiohttp_server(create_app(settings), access_log_class=AccessLogger,
                                      access_log=logging.getLogger("hub.access"))
        async with aiohttp.ClientSession() as http:
            await http.get(server.make_url("/api/v1/cases/2026113000001?code=SECRETCODE"))
            await http.get(server.make_url("/inbox?q=13812345678"))
        logging.getLogger("hub.test").warning("caller 13812345678 id 110101199003071234")
    finally:
        configure(verbose=False, serving=False)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    access = [entry for entry in lines if entry["logger"] == "hub.access"]
    assert {a["route"] for a in access} >= {"/api/v1/cases/{number}", "/inbox"}
    assert all(a["status"] and "ms" in a for a in access)
    text_all = json.dumps(lines, ensure_ascii=False)
    assert "SECRETCODE" not in text_all and "13812345678" not in text_all
    warning = next(entry for entry in lines if entry["logger"] == "hub.test")
    assert warning["message"] == "caller 138****5678 id 110101********1234"  # hub.privacy's form
    assert re.match(r"\d{4}-\d\d-\d\dT", warning["time"]) and warning["level"] == "WARNING"


@pytest.mark.slow
def test_hub_serve_starts_quietly_and_logs_json(settings: Settings) -> None:
    """Start-up says what runs where, in JSON when asked; no Alembic or APScheduler
    chatter ("adding job tentatively"), and each request is one access line."""
    import os
    import sys
    import urllib.request

    from benchmarks.util import free_port, wait_for_port

    port = free_port()
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": settings.database_url,
           "HUB_VAR_DIR": str(settings.var_dir), "HUB_MODEL_PATH": str(settings.model_path),
           "HUB_SCHEDULER": "1", "HUB_LOG_FORMAT": "json"}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?who=13812345678") as r:
            assert r.status == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    entries = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    messages = [e["message"] for e in entries]
    assert any(m.startswith("hub serve ") and "scheduler on" in m and "pipeline on" in m
               for m in messages), messages
    assert any(m.startswith("Running on http://127.0.0.1:") for m in messages), messages
    assert not [e for e in entries if e["logger"].startswith(("alembic", "apscheduler"))
                or "tentatively" in e["message"]], entries
    [access] = [e for e in entries if e["logger"] == "hub.access"]
    assert access["route"] == "/healthz" and access["status"] == 200
    assert "13812345678" not in err.decode() and not out
    assert len(entries) <= 5, messages


@pytest.mark.skipif(on_postgres(), reason="fills a small SQLite disk (PostgreSQL's disk is "
                    "the server's)")
async def test_a_full_disk_answers_503_and_recovers_once_space_is_freed(
        settings: Settings, aiohttp_client: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small disk needs root")
    try:
        shutil.copy(make_url(settings.database_url).database or "", small / "hub.sqlite3")
        client = await _app_client(aiohttp_client, settings.with_overrides(
            database_url=f"sqlite:///{small / 'hub.sqlite3'}"))
        assert (await _post_many(client, 1, "room"))[0][0] == 201
        caplog.set_level(logging.INFO)
        with (small / "filler").open("wb") as fh:  # something else fills the disk
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        answers = await _post_many(client, 5, "full")
        assert {a[0] for a in answers} == {503}
        assert {a[2]["error"]["code"] for a in answers} == {"database_full"}
        assert not [r for r in _hub_records(caplog) if r.exc_info]
        (small / "filler").unlink()
        assert {a[0] for a in await _post_many(client, 5, "freed")} == {201}
        with client.app["hub"].sessions() as s:  # nothing of the failed burst was half-kept
            stored = s.execute(text("SELECT external_id FROM appeal")).scalars().all()
        assert sorted(stored) == ["freed-0", "freed-1", "freed-2", "freed-3", "freed-4", "room-0"]
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)
