"""What an operator does with channels, from the CLI and the admin page: pull with one
clear line on failure, see every failure in `hub sources`, list and recover
quarantined items, reset a source; every admin action leaves an audit event."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import delete, select

from connectors.base import Connector, RawItem
from connectors.health import source_health
from connectors.registry import registered
from connectors.runner import pull
from hub.app import create_app
from hub.cli import main
from hub.core import Hub
from hub.models import Appeal, QuarantinedItem, SearchBacklog, SourceEvent
from hub.settings import Settings
from hub.simulate import Channels
from tests.channelutil import FAST, N, add_source, messages, source_options, stored_ids
from tests.webutil import login, make_staff

PORTS = range(18200, 18300)  # this work's own ports


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18200-18299")


@pytest.fixture
def live() -> Iterator[tuple[Channels, str]]:
    """The imitations on a real port in a thread, for commands run as an operator would."""
    sim = Channels(messages())
    port, ready = _free_port(), threading.Event()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(sim.app(), access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield sim, f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def operator_env(settings: Settings, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment `hub` reads, pointing at the test database and a config copy."""
    config = tmp_path / "config"
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("HUB_CONFIG_DIR", str(config))
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    return config


def _hub(settings: Settings, config: Path) -> Hub:
    return Hub.open(settings.with_overrides(config_dir=config))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusing an argument, with its usage line
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_pull_mistakes_and_an_unreachable_host_are_one_line_and_recorded(
        settings: Settings, operator_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", _free_port()))
        dead = sock.getsockname()[1]
    add_source(operator_env, "hotline-city", "hotline",
               {**FAST, "url": f"http://127.0.0.1:{dead}/workorders", "retries": 0,
                "timeout_seconds": 2})
    code, _, err = _run(["pull", "hotline-cty"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "no source named 'hotline-cty'" in err and "hotline-city" in err
    code, _, err = _run(["pull", "web"], capsys)
    assert code == 2 and err.count("\n") == 1 and "kind 'push'" in err
    for _attempt in range(3):
        code, out, err = _run(["pull", "hotline-city"], capsys)
        assert code == 1 and err.count("\n") == 1
        assert err.startswith("hub: pull of hotline-city failed: RetryLater: ")
        summary = json.loads(out)
        assert summary["status"] == "error" and summary["errors"] == 1
    assert summary["paused_until"] is not None  # the circuit opened after three failures
    code, out, _ = _run(["sources"], capsys)
    [row] = [r for r in json.loads(out) if r["name"] == "hotline-city"]
    assert code == 0 and row["status"] == "paused" and row["consecutive_failures"] == 3
    assert "RetryLater" in row["last_error"] and row["lag_minutes"] is None


class Exploding(Connector):
    """a channel whose connector has a bug"""

    kind = "exploding-test"

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem]:  # type: ignore[override]
        yield RawItem({"external_id": "e-1", "body": "A5区某路段积水严重"}, None)
        raise KeyError("items")


async def test_any_exception_is_recorded_and_opens_the_circuit(settings: Settings,
                                                               tmp_path: Path) -> None:
    config = tmp_path / "config"
    add_source(config, "buggy", Exploding.kind, {})
    with registered(Exploding):
        hub = _hub(settings, config)
        try:
            async with aiohttp.ClientSession() as http:
                runs = [await pull(hub, "buggy", http) for _ in range(3)]
            assert [r["error"] for r in runs] == ["KeyError: 'items'"] * 3
            assert runs[0]["new"] == 1 and stored_ids(hub, "buggy") == ["e-1"]  # kept
            assert runs[-1]["paused_until"] is not None
            [row] = [r for r in source_health(hub) if r["name"] == "buggy"]
            assert row["status"] == "paused" and row["last_error"] == "KeyError: 'items'"
        finally:
            hub.close()


def test_quarantine_is_listed_filtered_replayed_and_refetched(
        settings: Settings, operator_env: Path, live: tuple[Channels, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    sim, base = live
    cut = [sim.messages[5].id, sim.messages[30].id]
    sim.faults.truncate_once = set(cut)
    add_source(operator_env, "board-city", "board", source_options("board", base))
    code, out, _ = _run(["pull", "board-city"], capsys)
    assert code == 0 and json.loads(out)["quarantined"] == 2
    code, out, _ = _run(["quarantine"], capsys)
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].split() == ["id", "source", "when", "bytes", "reason"]
    assert len(lines) == 3 and all("board-city" in line and "truncated" in line
                                   for line in lines[1:])
    assert all(int(line.split()[4]) > 100 for line in lines[1:])  # the size, in bytes
    ids = [int(line.split()[0]) for line in lines[1:]]
    assert _run(["quarantine", "--reason", "nosuch"], capsys)[1].strip() == \
        "no quarantined items match"
    assert _run(["quarantine", "--source", "web"], capsys)[1].strip() == \
        "no quarantined items match"
    code, _, err = _run(["quarantine", "--source", "nosuch"], capsys)
    assert code == 2 and "no source named 'nosuch'" in err
    listed = json.loads(_run(["quarantine", "--json", "--since", "2020-01-01"], capsys)[1])
    assert sorted(r["id"] for r in listed) == sorted(ids)
    # the stored bytes are cut off: replaying them fails, and says why
    code, _, err = _run(["replay", str(ids[0])], capsys)
    assert code == 1 and "still cannot be parsed" in err and err.count("\n") == 1
    code, out, _ = _run(["replay", str(ids[0]), "--refetch"], capsys)
    assert code == 0 and json.loads(out)["appeal"] > 0
    assert _run(["replay", str(ids[0]), "--refetch"], capsys)[0] == 1  # done already
    assert len(_run(["quarantine"], capsys)[1].strip().splitlines()) == 2
    everything = _run(["quarantine", "--all"], capsys)[1]
    assert everything.count("[replayed]") == 1
    assert _run(["replay", "999999"], capsys)[0] == 1
    hub = _hub(settings, operator_env)
    try:
        with hub.sessions() as s:
            actions = [(e.action, e.actor.startswith("cli:")) for e in s.scalars(
                select(SourceEvent).order_by(SourceEvent.id))]
        assert actions == [("replay", True), ("refetch", True)]
    finally:
        hub.close()


def test_source_reset_rereads_from_a_date(settings: Settings, operator_env: Path,
                                         live: tuple[Channels, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    sim, base = live
    add_source(operator_env, "board-city", "board", source_options("board", base))
    add_source(operator_env, "hotline-city", "hotline", source_options("hotline", base))
    assert _run(["pull", "board-city"], capsys)[0] == 0
    lost = [str(m.id) for m in sim.messages[10:13]]  # as if a fault had lost them
    hub = _hub(settings, operator_env)
    try:
        with hub.sessions() as s:
            gone = select(Appeal.id).where(Appeal.external_id.in_(lost))
            s.execute(delete(SearchBacklog).where(SearchBacklog.appeal_id.in_(gone)))
            s.execute(delete(Appeal).where(Appeal.external_id.in_(lost)))
            s.commit()
    finally:
        hub.close()
    code, out, _ = _run(["pull", "board-city"], capsys)
    assert json.loads(out)["new"] == 0  # deep in the list, below stored messages
    since = (sim.messages[9].at - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    code, out, _ = _run(["source", "reset", "board-city", "--since", since], capsys)
    result = json.loads(out)
    assert code == 0 and "without stopping at stored messages" in result["next_pull"]
    code, out, _ = _run(["pull", "board-city"], capsys)
    assert (code, json.loads(out)["new"]) == (0, 3)
    code, out, _ = _run(["source", "reset", "hotline-city", "--since", "2026-11-01"], capsys)
    assert code == 0 and "cannot start at a date" in json.loads(out)["next_pull"]
    code, _, err = _run(["source", "reset", "board-city", "--since", "11/2026"], capsys)
    assert code == 2 and "is not a date" in err
    code, _, err = _run(["source", "reset", "web"], capsys)
    assert code == 2 and "kind 'push'" in err
    hub = _hub(settings, operator_env)
    try:
        assert stored_ids(hub, "board-city") == sorted(str(m.id) for m in sim.messages)
        with hub.sessions() as s:
            resets = list(s.scalars(select(SourceEvent).where(SourceEvent.action == "reset")))
        assert len(resets) == 2 and resets[0].data["since"] is not None
    finally:
        hub.close()


async def test_the_admin_page_shows_warnings_and_acts_with_an_audit_event(
        aiohttp_client: Any, aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    sim = Channels(messages())
    server = await aiohttp_server(sim.app())
    base = str(server.make_url("")).rstrip("/")
    config = tmp_path / "config"
    add_source(config, "board-city", "board", source_options("board", base, {"max_pages": 2}))
    cut = sim.messages[-2].id
    sim.faults.truncate_once = {cut}
    client = await aiohttp_client(create_app(settings.with_overrides(config_dir=config)))
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    summary = await pull(hub, "board-city", client.app["http"])
    assert summary["status"] == "warning" and summary["quarantined"] == 1
    csrf = await login(client, "adm")
    page = await (await client.get("/admin/sources")).text()
    row = re.search(r'<tr data-source="board-city">.*?</tr>', page, re.S)
    assert row and "可能漏读" in row.group(0) and "max_pages" in row.group(0)
    [item] = [int(i) for i in re.findall(r"/admin/quarantine/(\d+)/refetch", page)]
    filtered = await (await client.get("/admin/sources?reason=nosuch")).text()
    assert "/admin/quarantine/" not in filtered and "隔离区为空" in filtered
    resp = await client.post(f"/admin/quarantine/{item}/refetch", data={"csrf": csrf},
                             allow_redirects=False)
    assert resp.status == 303
    again = await client.post(f"/admin/quarantine/{item}/refetch", data={"csrf": csrf})
    assert again.status == 422 and "already replayed" in await again.text()
    bad = await client.post("/admin/sources/board-city/reset",
                            data={"csrf": csrf, "since": "去年"})
    assert bad.status == 422
    push = await client.post("/admin/sources/web/reset", data={"csrf": csrf})
    assert push.status == 422
    forged = await client.post("/admin/sources/board-city/reset", data={"csrf": "x"})
    assert forged.status == 403
    ok = await client.post("/admin/sources/board-city/reset",
                           data={"csrf": csrf, "since": "2026-11-01"}, allow_redirects=False)
    assert ok.status == 303

    def trail() -> list[tuple[str, str]]:
        with hub.sessions() as s:
            return [(e.action, e.actor) for e in s.scalars(
                select(SourceEvent).order_by(SourceEvent.id))]

    assert await hub.run(trail) == [("refetch", "adm"), ("reset", "adm")]
    page = await (await client.get("/admin/sources")).text()
    assert "重新下载" in page and "重新读取" in page and "adm" in page

    def held() -> int:
        with hub.sessions() as s:
            return len(list(s.scalars(select(QuarantinedItem).where(
                QuarantinedItem.replayed_at.is_(None)))))

    assert await hub.run(held) == 0
    assert str(cut) in await hub.run(stored_ids, hub, "board-city")
    assert N > 20  # max_pages 2 really left messages unread


async def test_a_reply_added_on_the_board_reaches_the_case_page(
        aiohttp_client: Any, aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    from hub.pipeline import Pipeline

    sim = Channels(messages(12))
    target = sim.messages[-1]
    target.reply = None
    server = await aiohttp_server(sim.app())
    config = tmp_path / "config"
    add_source(config, "board-city", "board",
               source_options("board", str(server.make_url("")).rstrip("/")))
    client = await aiohttp_client(create_app(settings.with_overrides(config_dir=config)))
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    await pull(hub, "board-city", client.app["http"])
    await hub.run(Pipeline(hub, client.app["router"]).drain)

    def case_of(external_id: str) -> int:
        from hub.models import Case

        with hub.sessions() as s:
            return s.scalar(select(Case.id).join(Appeal, Appeal.id == Case.appeal_id)
                            .where(Appeal.external_id == external_id))

    case_id = await hub.run(case_of, str(target.id))
    await login(client, "disp")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "原渠道上的回复" not in page
    sim.answer(target.id, "您好，经A2区住建局核实，电梯已于本周完成维修，请放心使用。")
    summary = await pull(hub, "board-city", client.app["http"])
    assert (summary["new"], summary["updated"]) == (0, 1)
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "原渠道上的回复" in page and "电梯已于本周完成维修" in page and "拉取时有更新" in page


async def test_only_admins_act_on_sources(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    assert (await client.post("/admin/sources/web/reset", data={})).status == 401
    csrf = await login(client, "disp")
    for path in ("/admin/sources/web/reset", "/admin/quarantine/1/replay",
                 "/admin/quarantine/1/refetch"):
        assert (await client.post(path, data={"csrf": csrf})).status == 403
