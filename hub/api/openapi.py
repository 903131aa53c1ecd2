"""The OpenAPI 3.1 document, built from the same schemas the server validates with."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub import __version__
from hub.intake_schema import MAX_BATCH, json_schema

routes = web.RouteTableDef()

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "field": {"type": "string"},
                   "existing_id": {"type": "integer",
                                   "description": "409: the appeal stored under this id"},
                   "url": {"type": "string"}}}}}
NULLABLE_STRING = {"type": ["string", "null"]}

_extra_paths: dict[str, dict[str, Any]] = {}
_extra_schemas: dict[str, Any] = {}


def register_paths(paths: dict[str, dict[str, Any]],
                   schemas: dict[str, Any] | None = None) -> None:
    """Let other API modules add their operations (and component schemas) to the one
    document."""
    for path, ops in paths.items():
        _extra_paths.setdefault(path, {}).update(ops)
    _extra_schemas.update(schemas or {})


def error(description: str) -> dict[str, Any]:
    """A documented error answer: JSON with a machine-readable code."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def json_answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_err = error

READINESS = {"type": "object", "required": ["status", "failed", "checks"], "properties": {
    "status": {"type": "string", "enum": ["ready", "degraded", "not_ready"]},
    "failed": {"type": "array", "items": {"type": "string"}},
    "checks": {"type": "object", "additionalProperties": {
        "type": "object", "required": ["ok"], "properties": {
            "ok": {"type": "boolean"}, "critical": {"type": "boolean"},
            "reason": {"type": "string"}}}}}}

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


def document() -> dict[str, Any]:
    appeal = json_schema()
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
                "201": {"description": "stored (single item)", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Enqueued"}}}},
                "200": {"description": "replay of a stored item (single), or batch results",
                        "content": {"application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/Enqueued"},
                            {"$ref": "#/components/schemas/BatchResult"}]}}}},
                "400": _err("malformed JSON, empty body or non-UTF-8 text"),
                "401": _err("missing or unknown API key"),
                "409": _err("this external_id was stored before with different content: "
                            "nothing is changed, error.existing_id names the stored appeal "
                            "(in a batch the item's result carries this error and its id)"),
                "413": _err("body over the size limit or batch too large"),
                "415": _err("not application/json or not UTF-8"),
                "422": {"description": "an item is invalid (single: Error), or every item "
                                       "of a batch is (BatchResult)",
                        "content": {"application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/Error"},
                            {"$ref": "#/components/schemas/BatchResult"}]}}}},
            }}},
        "/api/v1/appeals/{appeal_id}": {"get": {
            "summary": "Status of an appeal this source submitted, with its case",
            "security": [{"apiKey": []}],
            "parameters": [{"name": "appeal_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {"200": json_answer("the appeal", {"$ref": "#/components/schemas/Appeal"}),
                          "401": _err("missing or unknown API key"),
                          "404": _err("no such appeal for this source")}}},
        "/healthz": {"get": {"summary": "Liveness: the process answers (no database check)",
                             "responses": {"200": json_answer("alive", {
                                 "type": "object", "required": ["status"], "properties": {
                                     "status": {"type": "string", "enum": ["ok"]},
                                     "instance": {"type": "string"}}})}}},
        "/readyz": {"get": {"summary": "Readiness, check by check with reasons: database "
                            "reachable and writable, migrations at head, scheduler, "
                            "pipeline, queue, job leases",
                            "responses": {"200": json_answer("ready, or degraded by a check "
                                                             "that is not critical", READINESS),
                                          "503": json_answer("not ready: a critical check "
                                                             "failed (see failed)", READINESS)}}},
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
            "schemas": {
                "AppealIn": appeal, "Error": ERROR,
                "Enqueued": {"type": "object", "required": ["id", "created"], "properties": {
                    "id": {"type": "integer"}, "created": {"type": "boolean"},
                    "source": {"type": "string"}, "url": {"type": "string"}}},
                "BatchResult": {"type": "object", "required": ["accepted", "rejected", "results"],
                                "properties": {"accepted": {"type": "integer"},
                                               "rejected": {"type": "integer"},
                                               "results": {"type": "array", "items": {
                                                   "type": "object", "required": ["index"],
                                                   "properties": {
                                                       "index": {"type": "integer"},
                                                       "id": {"type": "integer"},
                                                       "created": {"type": "boolean"},
                                                       "error": ERROR["properties"]["error"]}}}}},
                "Appeal": {"type": "object", "required": ["id", "external_id", "state",
                                                          "received_at", "title", "case"],
                           "properties": {
                               "id": {"type": "integer"}, "external_id": {"type": "string"},
                               "state": {"type": "string"},
                               "received_at": {"type": "string", "format": "date-time"},
                               "title": {"type": "string"},
                               "case": {"oneOf": [{"type": "null"}, {
                                   "type": "object",
                                   "required": ["number", "state", "query_code"],
                                   "properties": {"number": {"type": "string"},
                                                  "state": {"type": "string"},
                                                  "query_code": {"type": "string"},
                                                  "deadline_at": NULLABLE_STRING}}]}}},
                **_extra_schemas,
            },
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(document())
