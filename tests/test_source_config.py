"""A mistake in a source's settings stops start-up (`hub init`, `hub serve`, `hub pull`)
with the file, the line, the source, the option and the reason; the reference of
options is generated from the same declarations as the checks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from connectors import reference
from connectors.registry import check_sources
from hub.cli import main
from hub.config import ConfigError, load_config
from hub.settings import REPO_ROOT
from hub.simulate import board_options
from tests.channelutil import add_source

BASE = "http://127.0.0.1:18201"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "config", tmp_path / "config")
    return tmp_path / "config"


def _error(cfg: Path, kind: str, options: dict[str, Any], name: str = "city-board") -> ConfigError:
    add_source(cfg, name, kind, options)
    with pytest.raises(ConfigError) as err:
        check_sources(load_config(cfg))
    return err.value


def _line(err: ConfigError) -> str:
    return err.path.read_text(encoding="utf-8").splitlines()[(err.line or 1) - 1]


def test_the_shipped_and_imitated_sources_pass() -> None:
    check_sources(load_config(REPO_ROOT / "config"))


@pytest.mark.parametrize(("kind", "options", "option", "words"), [
    ("bord", board_options(BASE), "kind", ["unknown kind 'bord'", "did you mean 'board'"]),
    ("board", {**board_options(BASE), "liink": "a"}, "liink",
     ["unknown option", "did you mean 'link'"]),
    ("board", {**board_options(BASE), "max_page": 3}, "max_page",
     ["unknown option", "did you mean 'max_pages'"]),
    ("board", {k: v for k, v in board_options(BASE).items() if k != "body"}, "body",
     ["missing required option"]),
    ("board", {**board_options(BASE), "item": "li.msg[", }, "item",
     ["not a valid CSS selector"]),
    ("board", {**board_options(BASE), "link": "a..title"}, "link", ["not a valid CSS selector"]),
    ("board", {**board_options(BASE), "list_url": "htp://bbs.example.gov.cn/list"}, "list_url",
     ["http:// or https://"]),
    ("board", {**board_options(BASE), "list_url": "http:///list?page=1"}, "list_url",
     ["not a well-formed address"]),
    ("board", {**board_options(BASE), "id_pattern": r"/detail/(\d+"}, "id_pattern",
     ["not a valid regular expression"]),
    ("board", {**board_options(BASE), "id_pattern": r"/detail/\d+"}, "id_pattern",
     ["needs one (group)"]),
    ("board", {**board_options(BASE), "max_pages": "50"}, "max_pages",
     ["must be a whole number", "str"]),
    ("board", {**board_options(BASE), "max_pages": 0}, "max_pages", ["greater than 0"]),
    ("board", {**board_options(BASE), "encoding": "gbk2312"}, "encoding", ["not an encoding"]),
    ("hotline", {"url": "not a url"}, "url", ["http:// or https://"]),
    ("hotline", {}, "url", ["missing required option"]),
    ("rss", {"url": f"{BASE}/rss.xml", "timeout": 5}, "timeout",
     ["did you mean 'timeout_seconds'"]),
    ("push", {"url": f"{BASE}/x"}, "url", ["push sources take no connector options"]),
])
def test_each_kind_of_mistake_names_file_source_option_and_reason(
        cfg: Path, kind: str, options: dict[str, Any], option: str, words: list[str]) -> None:
    err = _error(cfg, kind, options)
    message = str(err)
    assert err.path == cfg / "sources.toml" and message.startswith(f"{err.path}:{err.line}: ")
    assert f"source 'city-board', option {option!r}" in message
    for word in words:
        assert word in message, message
    if "missing required option" in words:  # no line of its own: its source's is given
        assert _line(err).strip() == "[[sources]]"
    else:
        assert _line(err).split("=")[0].strip() == option


def test_start_up_stops_with_one_line_and_no_traceback(cfg: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    add_source(cfg, "city-board", "board", {**board_options(BASE), "next": "a.next >"})
    monkeypatch.setenv("HUB_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'never.sqlite3'}")
    for command in (["init"], ["pull", "city-board"], ["sources"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert re.search(r"sources\.toml:\d+: source 'city-board', option 'next': "
                         r"is not a valid CSS selector", err)
    assert not (tmp_path / "never.sqlite3").exists()  # stopped before touching the database


def test_the_readme_table_is_the_generated_reference() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert reference.START in readme, "README.md needs the generated connector options table"
    start = readme.index(reference.START)
    end = readme.index(reference.END, start) + len(reference.END)
    assert readme[start:end] == reference.markdown(), (
        "README.md's connector options table is out of date: paste the output of "
        "`hub sources --kinds --markdown` over it")


def test_the_reference_lists_every_declared_option(capsys: pytest.CaptureFixture[str]) -> None:
    from connectors.registry import kinds

    assert main(["sources", "--kinds"]) == 0
    out = capsys.readouterr().out
    for kind, cls in kinds().items():
        assert f"{kind}: {cls.summary()}" in out
        for option in cls.declared_options():
            assert re.search(rf"^  {option.name}\s", out, re.M), option.name


def test_a_new_kind_is_told_what_its_test_source_lacks() -> None:
    """The channel contract test's helper names the file and the entry to add, not a
    bare KeyError."""
    from connectors.base import Connector
    from connectors.options import REQUIRED, Option
    from connectors.registry import registered
    from tests.channelutil import source_options

    class WeiboConnector(Connector):
        """a city's government Weibo account (政务微博)"""

        kind = "weibo-test"
        OPTIONS = (Option("account", str, REQUIRED, "the account's uid"),)

    with registered(WeiboConnector):
        with pytest.raises(pytest.fail.Exception) as failed:
            source_options("weibo-test", BASE)
        message = str(failed.value)
        assert "no imitation" in message and "hub/simulate.py" in message
        assert "IMITATED['weibo-test']" in message
        from hub import simulate

        simulate.IMITATED["weibo-test"] = lambda base: {"acount": "123"}
        try:
            with pytest.raises(pytest.fail.Exception) as failed:
                source_options("weibo-test", BASE)
        finally:
            del simulate.IMITATED["weibo-test"]
        message = str(failed.value)
        assert "acount: unknown option (did you mean 'account'?)" in message
        assert "account: missing required option" in message
