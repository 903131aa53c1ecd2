"""The OpenAPI 3.1 document, built from the same schemas the server validates with:
the intake's from hub/intake_schema.py, the staff actions' from
hub/lifecycle/actions.py, and every answer's (and simple request's) from its pydantic
model (hub/api/shapes.py), hoisted into components."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from hub import __version__
from hub.api import shapes
from hub.intake_schema import MAX_BATCH, json_schema

routes = web.RouteTableDef()

COMPONENT = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]

_extra_paths: dict[str, dict[str, Any]] = {}
# component name -> (model, how it is used: "serialization" for answers, "validation"
# for request bodies; the two may differ, e.g. in aliases and defaults)
_models: dict[str, tuple[type[BaseModel], Mode]] = {}


def register_paths(paths: dict[str, dict[str, Any]]) -> None:
    """Let other API modules add their operations to the one document."""
    for path, ops in paths.items():
        _extra_paths.setdefault(path, {}).update(ops)


def ref(model: type[BaseModel], mode: Mode = "serialization") -> dict[str, str]:
    """A ``$ref`` to ``model``'s component schema, which the document will generate."""
    name = model.__name__
    known = _models.setdefault(name, (model, mode))
    if known != (model, mode):
        raise ValueError(f"two component schemas named {name}: {known} and {(model, mode)}")
    return {"$ref": COMPONENT.format(model=name)}


def error(description: str) -> dict[str, Any]:
    """A documented error answer: JSON with a machine-readable code."""
    return json_answer(description, shapes.Error)


def json_answer(description: str, model: type[shapes.Answer]) -> dict[str, Any]:
    """A documented answer whose body is ``model``."""
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """A required JSON request body validated with ``model``."""
    return {"required": True, "content": {"application/json": {
        "schema": ref(model, "validation")}}}


def component_schemas() -> dict[str, Any]:
    """Every registered model's JSON Schema, with the models it nests (pydantic's
    ``$defs``) hoisted beside it, all referenced as #/components/schemas/Name."""
    out: dict[str, Any] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        if out.setdefault(name, schema) != schema:
            raise ValueError(f"two different component schemas named {name}")

    for name, (model, mode) in list(_models.items()):
        schema = model.model_json_schema(ref_template=COMPONENT, mode=mode)
        for nested, definition in schema.pop("$defs", {}).items():
            add(nested, definition)
        add(name, schema)
    return out


_err = error

# answers any operation may give, whatever its handler: the URL guard, the JSON body
# parser and aiohttp itself (hub/security/urls.py, hub/security/jsonbody.py)
COMMON = {"400": "malformed request: a NUL in the address, bad JSON, nesting too deep",
          "405": "method not allowed (e.g. a path parameter of '.' or '..')",
          "503": "the database is unavailable, locked, read-only or full (error.code says "
                 "which): try again after the Retry-After header's seconds"}
WITH_BODY = {"413": "body over the size limit", "415": "not application/json or not UTF-8",
             "422": "a field is invalid: wrong type, unstorable text, a number too large"}


def _complete(paths: dict[str, Any]) -> None:
    for ops in paths.values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            extra = {**COMMON, **(WITH_BODY if "requestBody" in op else {})}
            for status, description in extra.items():
                responses.setdefault(status, error(description))


def _one_of(*models: type[shapes.Answer]) -> dict[str, Any]:
    return {"oneOf": [ref(m) for m in models]}


def document() -> dict[str, Any]:
    batch = {"oneOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/AppealIn"},
         "minItems": 1, "maxItems": MAX_BATCH},
        {"type": "object", "additionalProperties": False, "required": ["appeals"],
         "properties": {"appeals": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                    "items": {"$ref": "#/components/schemas/AppealIn"}}}},
    ]}
    paths: dict[str, Any] = {
        "/api/v1/appeals": {"post": {
            "summary": "Submit one appeal or a batch (诉求推送)",
            "security": [{"apiKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [{"$ref": "#/components/schemas/AppealIn"}, batch]}}}},
            "responses": {
                "201": json_answer("stored (single item)", shapes.Enqueued),
                "200": {"description": "replay of a stored item (single), or batch results",
                        "content": {"application/json": {"schema": _one_of(
                            shapes.Enqueued, shapes.BatchResult)}}},
                "400": _err("malformed JSON, empty body or non-UTF-8 text"),
                "401": _err("missing or unknown API key"),
                "409": _err("this external_id was stored before with different content: "
                            "nothing is changed, error.existing_id names the stored appeal "
                            "(in a batch the item's result carries this error and its id)"),
                "413": _err("body over the size limit or batch too large"),
                "415": _err("not application/json or not UTF-8"),
                "422": {"description": "an item is invalid (single: Error), or every item "
                                       "of a batch is (BatchResult)",
                        "content": {"application/json": {"schema": _one_of(
                            shapes.Error, shapes.BatchResult)}}},
            }}},
        "/api/v1/appeals/{appeal_id}": {"get": {
            "summary": "Status of an appeal this source submitted, with its case",
            "security": [{"apiKey": []}],
            "parameters": [{"name": "appeal_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {"200": json_answer("the appeal", shapes.Appeal),
                          "401": _err("missing or unknown API key"),
                          "404": _err("no such appeal for this source")}}},
        "/healthz": {"get": {"summary": "Liveness: the process answers (no database check)",
                             "responses": {"200": json_answer("alive", shapes.Liveness)}}},
        "/readyz": {"get": {"summary": "Readiness, check by check with reasons: database "
                            "reachable and writable, migrations at head, scheduler, "
                            "pipeline, queue, job leases",
                            "responses": {"200": json_answer("ready, or degraded by a check "
                                                             "that is not critical",
                                                             shapes.Readiness),
                                          "503": json_answer("not ready: a critical check "
                                                             "failed (see failed)",
                                                             shapes.Readiness)}}},
    }
    for path, ops in _extra_paths.items():
        paths.setdefault(path, {}).update(ops)
    _complete(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "hub: citizen appeals intake and dispatch", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header",
                                           "name": "X-Api-Key"}},
            "schemas": {"AppealIn": json_schema(), **component_schemas()},
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(document())
