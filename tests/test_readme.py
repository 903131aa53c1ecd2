"""The README's commands, run as a new user would run them: in a fresh directory, in the
README's order, through the installed `hub` script, on the database under test, with
their documented outputs checked.

The commands are read from the README itself (its bash and toml blocks), so the README
cannot drift from what works. A `hub` command the README shows (in a block or in the
command table) that no test here runs fails the suite, and so does a command of the CLI
that the README's table does not document.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hub.cli import build_parser
from hub.settings import REPO_ROOT
from tests.conftest import SHARED_DATA, TEST_DB, on_postgres

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
SEED = REPO_ROOT / "classifiers" / "data" / "seed_corpus.csv"
DEMO_PORT = "localhost:8080"


# --- reading the README -------------------------------------------------------------

def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, blank and comment lines dropped."""
    out: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    return out


def hub_words(command: str) -> list[str] | None:
    """['import', 'FILE', ...] for a `hub import FILE ...` line, else None."""
    try:
        argv = shlex.split(command, comments=True)
    except ValueError:
        return None
    if argv and Path(argv[0]).name == "hub":
        return argv[1:]
    return None


def cli_groups() -> dict[str, set[str]]:
    """Every leaf command of the CLI: {'init': set(), 'user': {'add'}, ...}."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    groups: dict[str, set[str]] = {}
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        nested = [a for a in p._actions if getattr(a, "choices", None) and
                  isinstance(a.choices, dict)]
        groups[name] = set(nested[0].choices) if nested else set()
    return groups


def command_key(words: list[str]) -> str:
    """'user add' for a grouped command, else the command's name."""
    groups = cli_groups()
    if words and groups.get(words[0]) and len(words) > 1 and words[1] in groups[words[0]]:
        return f"{words[0]} {words[1]}"
    return words[0] if words else ""


def documented_in_table() -> set[str]:
    keys = set()
    for cell in re.findall(r"^\| `hub ([^`]+)` \|", README, flags=re.M):
        keys.add(command_key(cell.split()))
    return keys


def documented_in_blocks() -> set[str]:
    return {command_key(w) for b in blocks("bash") for c in commands(b)
            if (w := hub_words(c))}


# --- a fresh hub in a temporary directory ----------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited early ({proc.returncode}): "
                                 f"{proc.stdout.read() if proc.stdout else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


def data_folder(tmp: Path) -> Path:
    """../shared/data when present, else the same two files made from the seed corpus."""
    if (SHARED_DATA / "messages_with_votes.csv").exists():
        return SHARED_DATA
    folder = tmp / "shared-data"
    folder.mkdir()
    shutil.copy(SEED, folder / "labelled_train.csv")
    with SEED.open(encoding="utf-8") as fh, \
            (folder / "messages_with_votes.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "点赞数"])
        for i, row in enumerate(csv.DictReader(fh)):
            writer.writerow([f"seed-{i}", "A0001", row["留言主题"], "2026-11-02 10:00:00",
                             row["留言详情"], i % 7])
    return folder


@dataclass
class Run:
    command: str
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, f"{self.command!r} exited {self.returncode}: {self.stderr}"
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"{self.command!r} printed no JSON: {self.stdout!r}") from None


@dataclass
class FreshHub:
    root: Path
    env: dict[str, str]
    data: Path
    seen: dict[str, Any] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.root / "work"

    def scalar(self, sql: str) -> Any:
        """One value read straight from this hub's database, to check a command's claim."""
        url = self.env.get("HUB_DATABASE_URL") or f"sqlite:///{self.work / 'var' / 'hub.sqlite3'}"
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def shell(self, command: str, timeout: float = 600) -> Run:
        """One README line through bash, as typed, from the fresh working directory."""
        line = command.replace("../shared/data/", f"{self.data}/")
        line = line.replace(".venv/bin/hub", str(BIN / "hub"))
        proc = subprocess.run(["bash", "-c", line], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        return Run(command, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[FreshHub]:
    (tmp_path / "work").mkdir()
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HUB_ENV="dev",
               HUB_VAR_DIR=str(tmp_path / "work" / "var"), HUB_CONFIG_DIR=str(config),
               PYTHONUNBUFFERED="1")
    admin = None
    name = ""
    if on_postgres():
        name = f"hub_readme_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(TEST_DB, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        env["HUB_DATABASE_URL"] = TEST_DB.rsplit("/", 1)[0] + f"/{name}"
    yield FreshHub(tmp_path, env, data_folder(tmp_path))
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- what each documented command must print --------------------------------------------

def csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return sum(1 for _ in csv.DictReader(fh))


def check_init(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["units"] > 100 and "import" in out["sources"], out
    assert ("postgresql" in out["database"]) == on_postgres()
    hub.seen["sources"] = out["sources"]


def check_import(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    rows = csv_rows(Path(words[1].replace("../shared/data", str(hub.data))))
    assert out["rows"] == rows, out
    if "imported" not in hub.seen:  # the first import queues every good row
        assert out["new"] + out["quarantined"] == rows and out["new"] > 0, out
        assert out["duplicates"] == 0, out
        hub.seen["imported"] = out["new"]
    else:  # the second finds each row already queued
        assert out["new"] == 0 and out["duplicates"] == hub.seen["imported"], out


def check_process(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["cases_opened"] == hub.seen["imported"], out
    assert out["appeals_indexed"] == hub.seen["imported"], out
    # every appeal gets its hot-issue topic except a whistleblower's report (hot
    # issues are published with their titles): counted in the database, not assumed
    reports = hub.scalar("SELECT count(*) FROM work_order WHERE hide_identity")
    assert out["topics_assigned"] == hub.seen["imported"] - reports, (out, reports)
    assert hub.scalar("SELECT count(*) FROM appeal WHERE topic_id IS NOT NULL") \
        == out["topics_assigned"]


def check_reindex(hub: FreshHub, words: list[str], run: Run) -> None:
    assert run.json()["appeals_indexed"] == hub.seen["imported"]


def check_train(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert Path(out["model"]).exists(), out
    assert out["labelled"] == csv_rows(hub.data / "labelled_train.csv")
    assert 0.0 < out["cv"]["macro_f1"] <= 1.0 and 0.0 <= out["cv"]["threshold"] <= 1.0, out
    if hub.data == SHARED_DATA:  # the 300 real messages (a plain TF-IDF + SVM gets ~0.7)
        assert out["cv"]["macro_f1"] >= 0.8 and 0 < out["cv"]["auto_routed_share"] <= 1, out


def check_evaluate(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert set(out) >= {"n", "accuracy", "macro_f1", "per_class", "auto_routed_share",
                        "auto_routed_accuracy"}, out
    assert out["n"] == csv_rows(hub.data / "labelled_train.csv")
    assert out["macro_f1"] > 0.5, out  # scored on its own training file
    if hub.data == SHARED_DATA:
        assert out["accuracy"] > 0.9, out


def check_classify(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert set(out) >= {"category", "unit", "county", "confidence", "needs_triage",
                        "urgent"}, out
    assert out["county"] == "A3", out  # the text names A3区
    assert out["category"] == "教育文体" and out["unit"].startswith("A3-"), out


def check_user_add(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["username"] == words[2] and out["role"] == "unit" and out["unit"] == "zhujian"
    again = hub.shell(run.command)
    assert again.returncode == 2 and "已存在" in again.stderr, again


def check_misconduct(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["unit"] == "zhujian" and out["verified_by"] == "纪委监委", out


def check_rank(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    period = words[words.index("--period") + 1]
    assert out["period"] == period, out
    folder = hub.work / words[words.index("--out") + 1]
    suffixes = {p.suffix for p in folder.iterdir()}
    assert suffixes >= {".html", ".csv", ".xlsx", ".json"}, suffixes
    stored = json.loads(next(folder.glob("*.json")).read_text(encoding="utf-8"))
    assert stored["period"] == period
    # the citizens' report names the period in Chinese and ranks each tier apart
    assert out["title"] == stored["title"] and stored["title"].startswith(
        f"{period[:4]}年第{int(period[-2:])}周"), out
    assert [t["code"] for t in stored["tiers"]] == [
        "county", "department", "enterprise", "county_department"]


def check_retrain(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["replaced"] is False and "correction" in out["reason"], out


def check_router_stats(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    model = out["model"]
    decided = sum(w["decided"] for w in out["weeks"])
    assert decided > 0 and all(w["auto_routed"] <= w["decided"] for w in out["weeks"]), out
    assert model["version"], model
    if not model["seed"]:  # `hub train` ran (the SQLite pass): it made a promise, and the
        # imported appeals were routed by the seed model before it replaced it
        promise = model["promise"]  # with few labels it may promise nothing (coverage 0)
        assert promise["messages"] == csv_rows(hub.data / "labelled_train.csv"), model
        assert promise["threshold"] == model["threshold"], model
        low, high = promise["coverage_interval"]
        assert low <= promise["coverage"] <= high, model
        assert all(w["model"] != model["version"] for w in out["weeks"]), out


def check_sources(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    names = {s["name"] for s in out} if isinstance(out, list) else set(out)
    assert names >= set(hub.seen["sources"]), (names, hub.seen["sources"])


def check_pull(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["source"] == words[1] and out["error"] is None, out
    for key in ("duplicates", "quarantined", "errors", "retries", "paused_until"):
        assert key in out, key
    total = hub.seen["board_messages"]
    if not hub.seen.get("reset"):  # the first pull queues every thread
        assert out["fetched"] == out["new"] == total, out
    else:  # after a reset the list is walked again; every thread is stored already
        assert out["new"] == 0 and out["quarantined"] == 0 and out["warnings"] == [], out


def check_quarantine(hub: FreshHub, words: list[str], run: Run) -> None:
    assert run.returncode == 0 and run.stdout.strip() == "no quarantined items", run


def check_source_reset(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert words[2] in json.dumps(out, ensure_ascii=False), out
    hub.seen["reset"] = True


def check_jobs(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()  # exit 0: nothing stuck
    assert isinstance(out["interval_jobs"], list) and "periodic_runs" in out, out


def check_backup(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    folder = hub.work / words[words.index("--out") + 1]
    assert (hub.work / out["backup"]).resolve() == folder.resolve(), out
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tables"]["appeal"] == hub.seen["imported"] + hub.seen["board_messages"]
    assert out["rows"] == sum(manifest["tables"].values()) and out["files"] >= 1, out


def check_restore(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert "--verify-only" in words and out["verified"] == words[-1] and out["rows"] > 0, out


def _citizen_calls(hub: FreshHub, phone: str) -> None:
    """The citizen's own appeal, filed before they ask what the hub holds on them."""
    from hub.core import Hub
    from hub.db import transaction
    from hub.intake_schema import validate_item
    from hub.queue import enqueue
    from hub.settings import load_settings

    opened = Hub.open(load_settings(hub.env))
    try:
        with transaction(opened.sessions) as s:
            enqueue(s, opened.source_ids["hotline-push"], [validate_item({
                "external_id": "readme-privacy", "contact_name": "欧阳娜娜",
                "contact_phone": phone, "body": f"我是欧阳娜娜，电话{phone}，小区路灯坏了"})])
    finally:
        opened.close()


def check_privacy_find(hub: FreshHub, words: list[str], run: Run) -> None:
    phone = words[words.index("--phone") + 1]
    assert run.json()["appeals"] == [], run  # the imported board messages name no phone
    _citizen_calls(hub, phone)
    found = hub.shell(run.command).json()["appeals"]
    assert len(found) == 1, found
    hub.seen["citizen_appeals"] = len(found)


def check_privacy_erase(hub: FreshHub, words: list[str], run: Run) -> None:
    out = run.json()
    assert out["appeals"] == hub.seen["citizen_appeals"], out
    phone = words[words.index("--phone") + 1]
    again = hub.shell(f"hub privacy find --phone {phone}").json()
    assert again["appeals"] == [], again
    refused = hub.shell("hub privacy erase --name 欧阳娜娜 --by x --reason y --yes")
    assert refused.returncode == 2 and "--appeal" in refused.stderr, refused


CHECKS: dict[str, Callable[[FreshHub, list[str], Run], None]] = {
    "init": check_init, "import": check_import, "process": check_process,
    "reindex": check_reindex, "train": check_train, "evaluate": check_evaluate,
    "classify": check_classify, "user add": check_user_add, "misconduct": check_misconduct,
    "rank": check_rank, "retrain": check_retrain, "sources": check_sources,
    "pull": check_pull, "quarantine": check_quarantine, "source reset": check_source_reset,
    "jobs": check_jobs, "backup": check_backup, "restore": check_restore,
    "privacy find": check_privacy_find, "privacy erase": check_privacy_erase,
    "router stats": check_router_stats,
}
# commands that never open the database: run once, in the SQLite pass
DATABASE_FREE = {"train", "evaluate"}
# documented commands run by their own tests below, not by the step-by-step blocks
OWN_TESTS = {"serve": "test_serve_answers_the_intake_api",
             "demo": "test_demo_serves_on_HUB_PORT_and_answers_the_readme_calls",
             "replay": "test_replay_after_the_config_is_fixed"}  # and ..._refetch_...


# --- the tests -------------------------------------------------------------------------

def test_every_command_is_documented_and_run() -> None:
    groups = cli_groups()
    cli = {f"{g} {s}" if s else g for g, subs in groups.items() for s in (subs or {""})}
    table = documented_in_table()
    assert cli - table == set(), f"CLI commands missing from the README's table: {cli - table}"
    shown = table | documented_in_blocks()
    assert shown - cli == set(), f"the README shows commands the CLI lacks: {shown - cli}"
    untested = shown - set(CHECKS) - set(OWN_TESTS)
    assert not untested, f"README commands no test runs (add them to {__file__}): {untested}"


def step_blocks() -> list[list[str]]:
    """The step-by-step blocks: every bash block made only of `hub` commands."""
    return [cmds for b in blocks("bash")
            if (cmds := commands(b)) and all(hub_words(c) for c in cmds)]


def test_the_step_by_step_blocks_run_in_order(fresh: FreshHub) -> None:
    from hub.simulate import Channels, load_messages

    steps = step_blocks()
    assert len(steps) >= 2, "the README lost its step-by-step blocks"
    [board_toml] = [b for b in blocks("toml") if 'kind = "board"' in b]
    messages = load_messages(SEED, limit=25)
    fresh.seen["board_messages"] = len(messages)
    with serve_in_thread(Channels(messages).app()) as port:
        for number, block in enumerate(steps):
            if number == 1:  # the README's toml goes into sources.toml before this block
                with (Path(fresh.env["HUB_CONFIG_DIR"]) / "sources.toml").open(
                        "a", encoding="utf-8") as fh:
                    fh.write("\n" + board_toml.replace("127.0.0.1:8081", f"127.0.0.1:{port}"))
            for command in block:
                words = hub_words(command)
                assert words is not None
                key = command_key(words)
                assert key in CHECKS, f"no check for README command {command!r}"
                if key in DATABASE_FREE and on_postgres():
                    continue
                CHECKS[key](fresh, words, fresh.shell(command))


class serve_in_thread:
    """An aiohttp app on a free port, served from a thread (the CLI runs meanwhile)."""

    def __init__(self, app: Any) -> None:
        self.app, self.port = app, free_port()
        self.ready = threading.Event()

    def __enter__(self) -> int:
        import asyncio

        from aiohttp import web

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            runner = web.AppRunner(self.app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            self.ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)
        return self.port

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start(fresh: FreshHub, args: list[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(BIN / "hub"), *args], cwd=fresh.work,
                            env={**fresh.env, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the server did not stop on Ctrl-C: {out}") from None
    return out


def demo_calls() -> list[str]:
    [block] = [b for b in blocks("bash") if "curl" in b]
    return commands(block)


def test_demo_serves_on_HUB_PORT_and_answers_the_readme_calls(fresh: FreshHub) -> None:
    port, channels = free_port(), free_port()
    proc = start(fresh, ["demo"], HUB_PORT=str(port), HUB_DEMO_CHANNELS_PORT=str(channels))
    try:
        wait_for_port(port, proc)
        wait_for_port(channels, proc)
        appeal_id: int | None = None
        for command in demo_calls():
            line = command.replace(DEMO_PORT, f"127.0.0.1:{port}")
            if appeal_id is not None:
                line = re.sub(r"/appeals/ID\b", f"/appeals/{appeal_id}", line)
            run = fresh.shell(line)
            assert run.returncode == 0, run
            if hub_words(command):
                check_classify(fresh, hub_words(command) or [], run)
            elif "openapi.json" in command:
                assert run.stdout.lstrip().startswith("{") and '"openapi"' in run.stdout
            elif " -d " in command:
                out = json.loads(run.stdout)
                assert out["created"] is True and out["url"] == f"/api/v1/appeals/{out['id']}"
                appeal_id = out["id"]
            else:
                assert "/appeals/ID" in command, f"no check for README call {command!r}"
                out = json.loads(run.stdout)
                assert out["id"] == appeal_id and out["external_id"] == "call-1", out
        with socket.create_connection(("127.0.0.1", channels)) as conn:
            conn.sendall(b"GET /board/list?page=1 HTTP/1.0\r\n\r\n")
            assert conn.recv(12).startswith(b"HTTP/1.")
    finally:
        out = stop(proc)
    assert f":{port}/login" in out, out  # it told the user where it serves
    assert "Traceback" not in out, out


def test_serve_answers_the_intake_api(fresh: FreshHub) -> None:
    assert fresh.shell("hub init").returncode == 0
    port = free_port()
    proc = start(fresh, ["serve"], HUB_PORT=str(port))
    try:
        wait_for_port(port, proc)
        run = fresh.shell(f"curl -s 127.0.0.1:{port}/healthz")
        assert json.loads(run.stdout)["status"] == "ok", run
        post = fresh.shell(
            "curl -s -H 'X-Api-Key: dev-hotline-push-key' -H 'Content-Type: application/json'"
            """ -d '{"external_id":"r-1","body":"A1区某路口红绿灯坏了三天"}' """
            f"127.0.0.1:{port}/api/v1/appeals")
        assert json.loads(post.stdout)["created"] is True, post
    finally:
        out = stop(proc)
    assert "alembic" not in out.lower() and "Traceback" not in out, out


def test_replay_after_the_config_is_fixed(fresh: FreshHub) -> None:
    """A board source with a wrong body selector quarantines every thread; once the
    selector is fixed, `hub replay ID` queues the stored item."""
    from hub.simulate import Channels, board_options, load_messages

    messages = load_messages(SEED, limit=3)
    with serve_in_thread(Channels(messages).app()) as port:
        options = board_options(f"http://127.0.0.1:{port}")
        sources = Path(fresh.env["HUB_CONFIG_DIR"]) / "sources.toml"
        original = sources.read_text(encoding="utf-8")

        def write(body_selector: str) -> None:
            lines = ['[[sources]]', 'name = "b"', 'kind = "board"', 'title = "留言板"']
            lines += [f"{k} = {json.dumps(body_selector if k == 'body' else v)}"
                      for k, v in options.items()]
            sources.write_text(original + "\n" + "\n".join(lines) + "\n", encoding="utf-8")

        write("div.no-such-thing")
        pulled = fresh.shell("hub pull b").json()
        assert pulled["quarantined"] == len(messages) and pulled["new"] == 0, pulled
        write(str(options["body"]))
        replayed = fresh.shell("hub replay 1").json()
        assert replayed["item"] == 1 and replayed["appeal"] >= 1, replayed
        again = fresh.shell("hub replay 1")
        assert again.returncode != 0 and "already" in (again.stdout + again.stderr), again


def test_replay_refetch_downloads_a_page_cut_off_in_transit(fresh: FreshHub) -> None:
    from hub.simulate import Channels, board_options, load_messages

    messages = load_messages(SEED, limit=3)
    channels = Channels(messages)
    channels.faults.truncate_once = {messages[1].id}
    with serve_in_thread(channels.app()) as port:
        options = board_options(f"http://127.0.0.1:{port}")
        lines = ['[[sources]]', 'name = "b"', 'kind = "board"', 'title = "留言板"']
        lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
        sources = Path(fresh.env["HUB_CONFIG_DIR"]) / "sources.toml"
        with sources.open("a", encoding="utf-8") as fh:
            fh.write("\n" + "\n".join(lines) + "\n")
        pulled = fresh.shell("hub pull b").json()
        assert pulled["quarantined"] == 1 and pulled["new"] == 2, pulled
        listed = fresh.shell("hub quarantine")
        assert listed.returncode == 0 and " b " in listed.stdout, listed
        assert fresh.shell("hub replay 1").returncode == 1  # the stored bytes are cut off
        refetched = fresh.shell("hub replay 1 --refetch").json()
        assert refetched["refetched"] is True and refetched["appeal"] >= 1, refetched


# --- the environment the README documents ------------------------------------------------

OTHER_VARIABLES = {"HUB_USER_PASSWORD", "HUB_TEST_DATABASE", "HUB_TEST_PG_URL"}


def test_readme_lists_every_setting_the_code_reads() -> None:
    from hub.settings import ENV_VARS

    table = set(re.findall(r"^\| `(HUB_[A-Z0-9_]+)` \|", README, flags=re.M))
    declared = {v.name for v in ENV_VARS}
    assert declared - table == set(), f"settings missing from the README: {declared - table}"
    assert table - declared == set(), f"README lists settings the code lacks: {table - declared}"
    # no other module reads a HUB_ variable of its own (push keys are named in config)
    read_elsewhere: set[str] = set()
    for folder in ("hub", "connectors", "classifiers"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            read_elsewhere |= set(re.findall(r"""["'](HUB_[A-Z0-9_]+)["']""",
                                             path.read_text(encoding="utf-8")))
    undocumented = read_elsewhere - declared - OTHER_VARIABLES
    assert not undocumented, f"variables read outside hub/settings.py: {undocumented}"
    for name in OTHER_VARIABLES:
        assert name in README, name


def test_a_setting_that_cannot_be_read_names_itself() -> None:
    from hub.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="HUB_PORT"):
        load_settings({"HUB_PORT": "eighty"})
    assert load_settings({"HUB_PORT": "8090"}).port == 8090
