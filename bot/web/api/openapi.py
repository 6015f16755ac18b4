"""The OpenAPI 3.1 document, generated from the route table's pydantic models (one source)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.web.api.framework import Route, RouteTable
from bot.web.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")
_ERROR_TEXT = {400: "Malformed request (bad JSON)", 401: "No valid token or session",
               403: "Not allowed", 404: "Not found", 409: "State conflict",
               413: "Body over 1 MiB", 422: "Validation failed"}


def _models(table: RouteTable) -> list[tuple[type[BaseModel], Any]]:
    """Each model once: request bodies as validated, responses as serialized."""
    seen: dict[str, tuple[type[BaseModel], Any]] = {"ErrorBody": (ErrorBody, "serialization")}
    for r in table.routes:
        if r.body is not None:
            seen[r.body.__name__] = (r.body, "validation")
        if r.response is not None:
            seen[r.response.__name__] = (r.response, "serialization")
    return list(seen.values())


def _query_params(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "description": prop.get("description", ""),
             "schema": {k: v for k, v in prop.items() if k not in ("title", "description")}}
            for name, prop in schema.get("properties", {}).items()]


def _operation(route: Route, prefix: str) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
              for p in _PARAM.findall(route.path)]
    params += _query_params(route.query)
    if route.method in ("POST", "PUT", "DELETE"):
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "A repeat with the same key returns the first response "
                                      "and changes nothing.",
                       "schema": {"type": "string", "maxLength": 150}})
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {route.produces: {"schema": {"$ref": REF.format(
            model=route.response.__name__)}}}
    elif route.produces != "application/json":
        ok["content"] = {route.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(route.status): ok}
    for status in sorted({*route.errors, 401, 403, 422}):
        responses[str(status)] = {"description": _ERROR_TEXT[status], "content": {
            "application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
    op: dict[str, Any] = {"summary": route.summary,
                          "operationId": f"{route.method.lower()}_{_op_name(route.path)}",
                          "parameters": params, "responses": responses}
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=route.body.__name__)}}}}
    elif route.body_media != "application/json":
        op["requestBody"] = {"required": True, "content": {route.body_media: {
            "schema": {"type": "string"}}}}
    return op


def _op_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")


def document(table: RouteTable, *, prefix: str) -> dict[str, Any]:
    _, defs = models_json_schema(_models(table),
                                 ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in table.routes:
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = _operation(route, prefix)
    return {
        "openapi": "3.1.0",
        "info": {"title": "jifen admin API", "version": "1",
                 "description": "HR and HRIS access to jifen: directory, grants, catalog, orders, "
                                "reports and the audit log."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {}), "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "JIFEN_ADMIN_TOKEN (actor api)"}}},
    }
