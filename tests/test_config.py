"""Invalid config stops start-up naming the file, the line and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.config import ConfigError, load_config
from hub.settings import REPO_ROOT, Settings, SettingsError


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "config", tmp_path / "config")
    return tmp_path / "config"


def test_shipped_config_loads() -> None:
    config = load_config(REPO_ROOT / "config")
    assert len(config.counties) == 9
    assert config.unit("A7-jiaoyu").name == "A7县教育局"


def test_syntax_error_names_file_and_line(cfg: Path) -> None:
    path = cfg / "deadlines.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[9] = "normal = = 3"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert err.value.path == path and err.value.line == 10


def test_unknown_unit_in_routing_names_the_line(cfg: Path) -> None:
    path = cfg / "routing.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"环境保护" = "shengtai"', '"环境保护" = "nosuchunit"'), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    line = path.read_text(encoding="utf-8").splitlines()[err.value.line - 1]
    assert "环境保护" in line and "nosuchunit" in str(err.value)


def test_duplicate_unit_code(cfg: Path) -> None:
    path = cfg / "units.toml"
    path.write_text(path.read_text(encoding="utf-8") + '\n[[departments]]\ncode = "jiaoyu"\n'
                    'name = "重复"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate unit code"):
        load_config(cfg)


def test_placeholder_secret_refused_in_production() -> None:
    with pytest.raises(SettingsError):
        Settings(env="prod", database_url="postgresql+psycopg://x/y").check()
    Settings(env="prod", database_url="postgresql+psycopg://x/y", secret_key="k" * 40).check()


def test_surge_settings_are_read_and_checked(cfg: Path) -> None:
    assert load_config(cfg).routing.surge.threshold == 20
    path = cfg / "routing.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("threshold = 20", "threshold = 1"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "surge.threshold" in str(err.value) and err.value.line is not None
    line = path.read_text(encoding="utf-8").splitlines()[err.value.line - 1]
    assert line.startswith("threshold")
    path.write_text(text.replace("window_minutes = 60", "window_minute = 60"), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key 'window_minute'"):
        load_config(cfg)
    without = text[:text.index("[surge]")]
    path.write_text(without, encoding="utf-8")  # an older config without [surge]: defaults
    assert load_config(cfg).routing.surge.window_minutes == 60
