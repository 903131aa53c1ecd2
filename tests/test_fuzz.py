"""Schema-driven fuzzing of the running app: schemathesis reads /api/v1/openapi.json
from a real ``hub serve`` process and generates valid and invalid requests for every
operation (at least 2,000 in all); no answer may be a 5xx, and every answer must
match the status codes, content types and schemas the document gives.

HUB_FUZZ_EXAMPLES sets the examples per operation and mode (default 100: about
2,000 requests, one and a half to two and a half minutes per database here).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from hub.db import transaction
from hub.models import Case
from hub.pipeline import ManualTriage, Pipeline
from tests.conftest import HOTLINE_KEY
from tests.webutil import PASSWORD, make_staff

DEFAULT_EXAMPLES = 100
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
MIN_REQUESTS = 2000
LEDGER_KEY = "fuzz-ledger-key-0123456789abcdef"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
PORTS = range(18150, 18199)  # this workplace's ports for the hub's own test servers


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18150-18198")


def _prepare(hub: Any) -> None:
    """Staff, appeals and cases in several states, so operations reach real rows."""
    make_staff(hub)
    from hub.intake_schema import validate_item
    from hub.queue import enqueue

    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], [validate_item({
            "external_id": f"seed-{i}", "body": f"A3区含浦街道第{i}号路灯不亮，请尽快维修。",
            "contact_name": "张三", "contact_phone": "13812345678"}) for i in range(8)])
    Pipeline(hub, ManualTriage()).drain()
    from hub.lifecycle.service import CaseService

    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        for i, case in enumerate(s.scalars(select(Case).order_by(Case.id))):
            if i % 2:
                svc.assign(s, case.id, "zhujian", "test")
            if i % 4 == 3:
                svc.sign(s, case.id, "unit")
                svc.reply(s, case.id, "unit", "已安排维修，感谢反映。")


@pytest.fixture
def served(settings: Any, hub: Any) -> Iterator[str]:
    _prepare(hub)
    port = _free_port()
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": settings.resolved_database_url,
           "HUB_VAR_DIR": str(settings.var_dir), "HUB_MODEL_PATH": str(settings.model_path),
           "HUB_SCHEDULER": "0", "HUB_PIPELINE": "0", "HUB_HOST": "127.0.0.1",
           "HUB_PORT": str(port), "HUB_LEDGER_KEY": LEDGER_KEY}
    log = (settings.var_dir / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((settings.var_dir / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _auth(base: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    resp = session.post(f"{base}/api/v1/staff/login",
                        json={"username": "disp", "password": PASSWORD}, timeout=30)
    assert resp.status_code == 200, resp.text
    return session, resp.json()["csrf_token"]


def test_fuzz_every_operation_from_the_openapi_document(served: str) -> None:
    base = served
    session, csrf = _auth(base)
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    sent: Counter[str] = Counter()

    def headers_for(label: str) -> dict[str, str]:
        if "/api/v1/appeals" in label:
            return dict(HOTLINE_KEY)
        if "/api/v1/ledger" in label:
            return {"X-Api-Key": LEDGER_KEY}
        if label.endswith("/actions"):
            return {"X-CSRF-Token": csrf}
        return {}

    def runner(operation: Any, mode: GenerationMode) -> Any:
        label = operation.label

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            response = case.call(base_url=base, session=session, headers=headers_for(label),
                                 timeout=30)
            sent[label] += 1
            case.validate_response(response, checks=CHECKS)

        return call

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                runner(operation, mode)()
            except Exception as exc:  # say which operation and mode failed
                if type(exc).__name__ in ("Unsatisfiable", "GenerationError") \
                        and mode is GenerationMode.NEGATIVE:
                    continue  # nothing invalid can be made for this operation
                raise AssertionError(f"{operation.label} ({mode.value}): {exc}") from exc
    total = sum(sent.values())
    print(f"fuzz: {total} requests", dict(sent))
    assert total >= MIN_REQUESTS or EXAMPLES < DEFAULT_EXAMPLES, (total, dict(sent))
    assert set(sent) == {op.label for op in operations}, dict(sent)
