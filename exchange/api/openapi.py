"""The OpenAPI 3.1 document, generated from the endpoint table and the msgspec structs."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from exchange.api.endpoint import Endpoint
from exchange.idempotency import HEADER, KEY_PATTERN, MAX_LENGTH, Idempotency
from exchange.messages.common import Problem

_PARAM = re.compile(r"{(\w+)}")
_REF = "#/components/schemas/{name}"
_STATUS_TEXT = {
    400: "The body or a parameter could not be read",
    401: "No API key, or an unknown or revoked one",
    403: "The participant is suspended or lacks the role",
    404: "No such resource",
    409: "Conflicts with the current state",
    413: "The body is larger than 4 MiB",
    422: "Invalid content; `errors` names each field",
    429: "Rate limit exceeded; see Retry-After",
    500: "Internal error; quote the request_id",
    503: "Not ready",
}


def _query_parameters(query: Any, schemas: dict[str, Any], ref: dict[str, Any]) -> list[Any]:
    name = ref["$ref"].rsplit("/", 1)[1]
    component = schemas[name]
    required = set(component.get("required", []))
    return [
        {"name": field, "in": "query", "required": field in required, "schema": schema}
        for field, schema in component["properties"].items()
    ]


def _operation(
    endpoint: Endpoint, refs: dict[Any, dict[str, Any]], schemas: dict[str, Any]
) -> dict[str, Any]:
    parameters: list[Any] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(endpoint.path)
    ]
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query, schemas, refs[endpoint.query])
    if endpoint.idempotency is not None:
        parameters.append(_idempotency_key(endpoint.idempotency))
    success: dict[str, Any] = {"description": "Success"}
    if endpoint.response is not None:
        success["content"] = {endpoint.content_type: {"schema": refs[endpoint.response]}}
    elif endpoint.content_type != "application/json" or endpoint.path.endswith(".json"):
        success["content"] = {endpoint.content_type: {"schema": {}}}
    responses: dict[str, Any] = {str(endpoint.status): success}
    for status in endpoint.error_statuses():
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        body = refs[endpoint.body]
        operation["requestBody"] = {
            # an empty body reads as {}: optional where every field is
            "required": bool(schemas[body["$ref"].rsplit("/", 1)[1]].get("required")),
            "content": {"application/json": {"schema": body}},
        }
    if endpoint.public:
        operation["security"] = []
    else:
        operation["description"] = _access(endpoint)
    return operation


def _idempotency_key(rule: Idempotency) -> dict[str, Any]:
    return {
        "name": HEADER,
        "in": "header",
        "required": rule is Idempotency.REQUIRED,
        "description": "A unique value per request (a UUID, say): a retry with the same key and"
        " body gets the first answer and has no second effect; the same key with another body"
        " or route is 409 IDEMPOTENCY_KEY_REUSED. Keys are per participant.",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH,
                   "pattern": KEY_PATTERN},
    }  # fmt: skip


def _access(endpoint: Endpoint) -> str:
    """The endpoint's access rule in words."""
    roles = endpoint.roles
    text = "Roles: " + ", ".join(sorted(roles)) if roles else "Any authenticated participant"
    if endpoint.owned is not None:
        text += (
            f". Only the party whose resource `{endpoint.owned.param}` names"
            + (" (or an operator)" if endpoint.owned.operators else "")
            + " reaches it; anyone else gets 404"
        )
    return text


def build_openapi(endpoints: list[Endpoint], version: str) -> dict[str, Any]:
    """An OpenAPI 3.1 document covering every endpoint."""
    types = [Problem]
    for endpoint in endpoints:
        types += [t for t in (endpoint.body, endpoint.query, endpoint.response) if t is not None]
    unique = list(dict.fromkeys(types))
    generated, schemas = msgspec.json.schema_components(unique, ref_template=_REF)
    refs = dict(zip(unique, generated, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, refs, schemas
        )
    problem = refs[Problem]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "B2B trading center API",
            "version": version,
            "description": "Offers, demand, RFQs, contracts, escrow and delivery. Money and"
            " quantities are decimal strings; errors are RFC 9457 problem documents.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                f"Problem{status}": {
                    "description": text,
                    "content": {"application/problem+json": {"schema": problem}},
                }
                for status, text in _STATUS_TEXT.items()
            },
        },
    }
