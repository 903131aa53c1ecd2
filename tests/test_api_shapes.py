"""The JSON answers against the models they are built from and documented by
(hub/api/shapes.py, hub/api/openapi.py): every operation is called on the running
app and each answer must be exactly what its documented model makes of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from hub.api import openapi, shapes
from hub.db import transaction
from hub.lifecycle.service import CaseService
from hub.models import Case
from hub.pipeline import Pipeline
from tests.conftest import HOTLINE_KEY
from tests.webutil import PASSWORD, make_staff

LEDGER_KEY = "shapes-ledger-key-0123456789abcdef"


@dataclass
class Seen:
    """One answer the app gave."""

    operation: str  # "METHOD /path/template", as in the OpenAPI document
    status: int
    body: Any


async def exercise(client: Any) -> list[Seen]:
    """Call every JSON operation so that each documented success answer (and the error
    envelope) comes back at least once, with optional keys both present and absent."""
    out: list[Seen] = []

    async def call(operation: str, path: str, **kwargs: Any) -> Any:
        method = operation.split()[0].lower()
        resp = await getattr(client, method)(path, **kwargs)
        body = await resp.json()
        out.append(Seen(operation, resp.status, body))
        return body

    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    post = "POST /api/v1/appeals"
    item = {"external_id": "shape-1", "title": "A3区某小区路灯不亮",
            "body": "A3区含浦街道某小区路灯坏了，联系电话13812345678",
            "contact_name": "张三", "contact_phone": "13812345678"}
    first = await call(post, "/api/v1/appeals", json=item, headers=HOTLINE_KEY)
    await call(post, "/api/v1/appeals", json=item, headers=HOTLINE_KEY)  # replay: 200
    await call(post, "/api/v1/appeals", json={**item, "body": "别的内容"}, headers=HOTLINE_KEY)
    await call(post, "/api/v1/appeals", json={"external_id": "x"}, headers=HOTLINE_KEY)
    await call(post, "/api/v1/appeals", headers=HOTLINE_KEY, json={"appeals": [
        {"external_id": "shape-2", "body": "A2区第2号路灯不亮，请尽快维修"},
        {"external_id": "shape-3"}, {**item, "body": "冲突的内容"}]})
    await call(post, "/api/v1/appeals", headers=HOTLINE_KEY, json=[{"external_id": "bad"}])
    appeal = f"/api/v1/appeals/{first['id']}"
    await call("GET /api/v1/appeals/{appeal_id}", appeal, headers=HOTLINE_KEY)  # no case yet
    await hub.run(Pipeline(hub, client.app["router"]).drain)
    await call("GET /api/v1/appeals/{appeal_id}", appeal, headers=HOTLINE_KEY)
    await call("GET /api/v1/appeals/{appeal_id}", "/api/v1/appeals/999999",
               headers=HOTLINE_KEY)

    svc = CaseService(hub.config, hub.unit_ids)

    def prepare() -> tuple[int, str, str]:
        with transaction(hub.sessions) as s:
            case = s.scalar(select(Case).where(Case.appeal_id == first["id"]))
            if case.state == "triage":
                svc.assign(s, case.id, "A3-zhujian", "dispatcher")
            svc.sign(s, case.id, "unit")
            svc.reply(s, case.id, "unit", "已安排维修，如有问题请拨打13812345678回访。")
            return case.id, case.number, case.query_code

    case_id, number, code = await hub.run(prepare)
    await call("GET /api/v1/cases/{number}", f"/api/v1/cases/{number}", params={"code": code})
    await call("POST /api/v1/cases/{number}/rating", f"/api/v1/cases/{number}/rating",
               json={"code": code, "grade": "不满意", "comment": "路灯还是不亮"})
    await call("GET /api/v1/cases/{number}", f"/api/v1/cases/{number}", params={"code": code})
    await call("POST /api/v1/units/{unit}/evaluations", "/api/v1/units/shichang/evaluations",
               json={"responsibility": "满意", "efficiency": "满意", "conduct": "满意"})
    await call("POST /api/v1/units/{unit}/evaluations", "/api/v1/units/shichang/evaluations",
               json={"responsibility": "不满意", "efficiency": "满意", "conduct": "满意",
                     "comment": "排队太久"})

    login = "POST /api/v1/staff/login"
    await call(login, "/api/v1/staff/login", json={"username": "sup", "password": "wrong"})
    csrf = (await call(login, "/api/v1/staff/login",
                       json={"username": "sup", "password": PASSWORD}))["csrf_token"]
    await call("GET /api/v1/staff/cases", "/api/v1/staff/cases")
    detail = f"/api/v1/staff/cases/{case_id}"
    await call("GET /api/v1/staff/cases/{case_id}", detail)
    await call("POST /api/v1/staff/cases/{case_id}/actions", f"{detail}/actions",
               json={"action": "urge", "note": "请尽快处理"}, headers={"X-CSRF-Token": csrf})
    await call("GET /api/v1/staff/cases/{case_id}", "/api/v1/staff/cases/999999")
    await call("GET /api/v1/ledger", "/api/v1/ledger", headers={"X-Api-Key": LEDGER_KEY})
    await call("GET /healthz", "/healthz")
    await call("GET /readyz", "/readyz")
    return out


@pytest.fixture
async def app_client(settings: Any, aiohttp_client: Any) -> Any:
    from hub.app import create_app

    return await aiohttp_client(create_app(settings.with_overrides(ledger_key=LEDGER_KEY)))


def _refs(schema: dict[str, Any]) -> list[str]:
    """The component names a documented answer's schema points at: a $ref, or a oneOf
    of $refs; anything else is a hand-written schema, which the document must not have."""
    options = schema.get("oneOf", [schema])
    assert all(set(o) == {"$ref"} for o in options), schema
    return [o["$ref"].removeprefix("#/components/schemas/") for o in options]


def _models(doc: dict[str, Any], operation: str, status: int) -> list[type[BaseModel]]:
    method, path = operation.split(" ", 1)
    response = doc["paths"][path][method.lower()]["responses"][str(status)]
    return [openapi._models[name][0] for name in
            _refs(response["content"]["application/json"]["schema"])]


def _made_by(models: list[type[BaseModel]], body: Any) -> bool:
    """Whether one of ``models`` accepts ``body`` and writes it back unchanged (no
    undeclared key, no missing one, no value it would write differently)."""
    for model in models:
        try:
            parsed = model.model_validate(body)
        except ValidationError:
            continue
        if parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == body:
            return True
    return False


async def test_every_answer_is_what_its_documented_model_makes(app_client: Any) -> None:
    answers = await exercise(app_client)
    doc = await (await app_client.get("/api/v1/openapi.json")).json()
    for a in answers:
        models = _models(doc, a.operation, a.status)
        assert _made_by(models, a.body), (a.operation, a.status, a.body,
                                          [m.__name__ for m in models])
    # every documented JSON success was seen at least once
    documented = {f"{method.upper()} {path} {status}"
                  for path, ops in doc["paths"].items() for method, op in ops.items()
                  for status, response in op["responses"].items()
                  if status.startswith("2") and "application/json" in response.get("content", {})
                  and path != "/api/v1/openapi.json"}
    seen = {f"{a.operation} {a.status}" for a in answers}
    assert documented <= seen, documented - seen


async def test_every_documented_schema_is_generated_from_a_model(app_client: Any) -> None:
    doc = await (await app_client.get("/api/v1/openapi.json")).json()
    components = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            bodies = [r["content"]["application/json"]["schema"]
                      for r in op["responses"].values() if "content" in r]
            for status, response in op["responses"].items():
                assert "content" in response or path == "/api/v1/openapi.json", \
                    (path, method, status)
            request = op.get("requestBody", {}).get("content", {}).get("application/json")
            if request and path not in ("/api/v1/appeals",
                                        "/api/v1/staff/cases/{case_id}/actions"):
                bodies.append(request["schema"])  # those two: intake_schema.py, actions.py
            for schema in bodies:
                for name in _refs(schema):
                    model, mode = openapi._models[name]
                    generated = model.model_json_schema(ref_template=openapi.COMPONENT,
                                                        mode=mode)
                    generated.pop("$defs", None)
                    assert components[name] == generated, name
    assert "$defs" not in str(doc)


def test_an_undeclared_key_is_refused() -> None:
    """A handler cannot add a key its model does not declare."""
    with pytest.raises(ValidationError):
        shapes.Enqueued(id=1, created=True, source="hotline-push", url="/x",
                        surprise=1)  # type: ignore[call-arg]
    from hub.api.errors import error_response

    with pytest.raises(ValidationError):
        error_response(400, "bad", "bad", hint="undeclared")


async def test_an_answer_drifting_from_its_model_fails_on_the_running_app(
        app_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """/readyz's checks come from hub/health.py as dicts: a measurement added there
    without ReadinessCheck's field is refused (a 500, logged), never sent undocumented."""
    from hub.api import ops

    real = ops.readiness

    async def drifted(app: Any) -> tuple[int, dict[str, Any]]:
        status, body = await real(app)
        body["checks"]["database"]["undocumented"] = 1
        return status, body

    monkeypatch.setattr(ops, "readiness", drifted)
    resp = await app_client.get("/readyz")
    assert resp.status == 500
    assert (await resp.json())["error"]["code"] == "internal_error"
