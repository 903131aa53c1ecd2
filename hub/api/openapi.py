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
                   "field": {"type": "string"}}}}}

_extra_paths: dict[str, dict[str, Any]] = {}


def register_paths(paths: dict[str, dict[str, Any]]) -> None:
    """Let other API modules add their operations to the one document."""
    for path, ops in paths.items():
        _extra_paths.setdefault(path, {}).update(ops)


def _err(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


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
                "413": _err("body over the size limit or batch too large"),
                "415": _err("not application/json or not UTF-8"),
                "422": _err("an item is invalid (single), or every item is (batch)"),
            }}},
        "/api/v1/appeals/{appeal_id}": {"get": {
            "summary": "Status of an appeal this source submitted, with its case",
            "security": [{"apiKey": []}],
            "parameters": [{"name": "appeal_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "the appeal"},
                          "401": _err("missing or unknown API key"),
                          "404": _err("no such appeal for this source")}}},
        "/healthz": {"get": {"summary": "Liveness: the process answers (no database check)",
                             "responses": {"200": {"description": "ok"}}}},
        "/readyz": {"get": {"summary": "Readiness, check by check with reasons: database "
                            "reachable and writable, migrations at head, scheduler, "
                            "pipeline, queue, job leases",
                            "responses": {"200": {"description": "ready or degraded"},
                                          "503": {"description": "not ready (see failed)"}}}},
    }
    for path, ops in _extra_paths.items():
        paths.setdefault(path, {}).update(ops)
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
                                               "results": {"type": "array"}}},
            },
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(document())
