"""Secrets, headers and exports: what a browser, a proxy or a spreadsheet program
is told, and what a production deployment refuses to start with."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
import segno
from openpyxl import load_workbook

from hub.pipeline import ManualTriage, Pipeline
from hub.settings import REPO_ROOT, SettingsError, load_settings
from tests.conftest import HOTLINE_KEY
from tests.webutil import login, make_staff

SECURE = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
          "Referrer-Policy": "same-origin"}


def _check_headers(resp: Any, cache: str = "no-store") -> None:
    for name, value in SECURE.items():
        assert resp.headers.get(name) == value, (resp.url, name)
    policy = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "script-src 'nonce-" in policy and "unsafe-inline" not in policy.split(";")[1]
    assert resp.headers.get("Cache-Control", "").startswith(cache), (resp.url, cache)


async def test_every_page_and_answer_carries_the_security_headers(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    for path in ("/", "/submit", "/lookup", "/login", "/evaluate/shichang", "/nosuchpage",
                 "/api/v1/openapi.json", "/api/v1/cases/1?code=x", "/healthz", "/inbox"):
        _check_headers(await client.get(path, allow_redirects=False))
    _check_headers(await client.get("/evaluate/shichang/qr.svg"), cache="public")
    _check_headers(await client.get("/reports"), cache="public")
    await login(client, "disp")
    for path in ("/inbox", "/inbox?view=triage", "/inbox/export.csv", "/api/v1/staff/cases"):
        _check_headers(await client.get(path))
    page = await client.get("/inbox")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce and f'<script nonce="{nonce.group(1)}">' in await page.text()
    other = await client.get("/inbox")
    assert other.headers["Content-Security-Policy"] != page.headers["Content-Security-Policy"]


async def test_the_qr_code_points_at_the_configured_public_url(settings: Any,
                                                               aiohttp_client: Any) -> None:
    from hub.app import create_app

    public = "https://12345.city.example.cn"
    client = await aiohttp_client(create_app(settings.with_overrides(public_url=public)))
    expected = segno.make(f"{public}/evaluate/shichang", error="m").svg_inline(
        scale=6, title="扫码评议 A市市场监督管理局")
    for headers, params in [({}, {}), ({"Host": "evil.example.com"}, {}),
                            ({"X-Forwarded-Host": "evil.example.com"},
                             {"base": "https://evil.example.com"})]:
        resp = await client.get("/evaluate/shichang/qr.svg", headers=headers, params=params)
        assert resp.status == 200 and await resp.text() == expected
    prod = await aiohttp_client(create_app(settings.with_overrides(
        env="prod", secret_key="s" * 40, database_url=settings.resolved_database_url)))
    resp = await prod.get("/evaluate/shichang/qr.svg", headers={"Host": "evil.example.com"})
    assert resp.status == 503 and "HUB_PUBLIC_URL" in await resp.text()


def _example_env() -> dict[str, str]:
    values = {}
    for line in (REPO_ROOT / "deploy" / "hub.env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_production_refuses_placeholders_and_development_keys(tmp_path: Path) -> None:
    example = _example_env()
    assert example.get("HUB_ENV") == "prod"
    with pytest.raises(SettingsError, match="HUB_SECRET_KEY"):
        load_settings(example)  # copied as it is: the secret is a placeholder
    good = {**example, "HUB_SECRET_KEY": "k" * 48, "HUB_VAR_DIR": str(tmp_path)}
    assert load_settings(good).env == "prod"
    for name, value in [("HUB_SECRET_KEY", "dev-insecure-secret-change-me" * 2),
                        ("HUB_SECRET_KEY", "replace-with-a-random-secret-of-48-characters"),
                        ("HUB_LEDGER_KEY", "dev-ledger-key"),
                        ("HUB_LEDGER_KEY", "replace-with-a-random-key"),
                        ("HUB_PUBLIC_URL", "http://12345.city.example.cn"),
                        ("HUB_TRUSTED_PROXIES", "127.0.0.1, nginx")]:
        with pytest.raises(SettingsError, match=name):
            load_settings({**good, name: value})
    assert load_settings({**good, "HUB_LEDGER_KEY": "L" * 30}).ledger_key == "L" * 30
    # the dev ledger key exists only in dev
    assert load_settings({"HUB_ENV": "dev"}).ledger_key == "dev-ledger-key"
    assert load_settings({"HUB_ENV": "test"}).ledger_key is None


def test_push_keys_refuse_placeholders_and_dev_keys_in_production(
        monkeypatch: Any, tmp_path: Path) -> None:
    from hub.bootstrap import api_keys
    from hub.config import load_config

    config = load_config(REPO_ROOT / "config")
    prod = load_settings({"HUB_ENV": "prod", "HUB_SECRET_KEY": "k" * 48,
                          "HUB_DATABASE_URL": "postgresql+psycopg://x/y"})
    monkeypatch.setenv("HUB_KEY_WEB", "w" * 30)
    for value in ("replace-with-a-random-key", "dev-hotline-push-key", "short"):
        monkeypatch.setenv("HUB_KEY_HOTLINE_PUSH", value)
        with pytest.raises(ValueError, match="HUB_KEY_HOTLINE_PUSH"):
            api_keys(config, prod)
    monkeypatch.delenv("HUB_KEY_HOTLINE_PUSH")
    keys = api_keys(config, prod)  # unset: the dev key is not used in its place
    assert set(keys.values()) == {"web"}


def test_no_hub_env_on_a_public_address_refuses_to_start(monkeypatch: Any) -> None:
    with pytest.raises(SettingsError, match="HUB_ENV"):
        load_settings({"HUB_HOST": "0.0.0.0"})
    assert load_settings({"HUB_HOST": "127.0.0.1"}).env == "dev"
    assert load_settings({"HUB_HOST": "0.0.0.0", "HUB_ENV": "dev"}).env == "dev"
    from hub.cli import main

    monkeypatch.delenv("HUB_ENV", raising=False)
    monkeypatch.delenv("HUB_HOST", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "18199"]) == 2
    assert main(["demo", "--host", "::", "--port", "18198"]) == 2


async def test_exports_cannot_carry_formulas(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
        "external_id": "f-1", "title": "=HYPERLINK(\"http://evil\",\"点此\")",
        "body": "+cmd|' /C calc'!A0 路灯不亮", "contact_name": "@SUM(1+1)",
        "contact_phone": "-13812345678"})
    assert resp.status == 201
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    await login(client, "disp")
    text = (await (await client.get("/inbox/export.csv")).read()).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    for column in ("标题", "内容", "联系人", "联系电话"):
        assert row[column][0] == "'", (column, row[column])
    body = await (await client.get("/inbox/export.xlsx")).read()
    sheet = load_workbook(io.BytesIO(body)).active
    values = [c for c in next(sheet.iter_rows(min_row=2, values_only=True)) if isinstance(c, str)]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)
    assert sheet.cell(row=2, column=5).data_type == "s"


def test_spreadsheet_cells() -> None:
    from hub.security.cells import safe_cell

    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("\t=cmd") == "'\t=cmd"
    assert safe_cell("路灯=坏") == "路灯=坏"
    assert safe_cell("a\x01b\x0bc") == "abc"  # control characters XLSX cannot hold
    assert safe_cell(-3) == -3
