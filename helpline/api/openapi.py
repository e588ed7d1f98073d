"""The OpenAPI 3 document of /api/v1, generated from the endpoints' own schemas."""

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from helpline.api import schemas

ERRORS = {
    400: "The body is not valid JSON or is nested too deeply, or the query is not UTF-8.",
    401: "No API token, or one that is unknown, revoked, or of a switched-off account.",
    403: "Your role may not do this.",
    404: "Not found.",
    409: "The conversation's state does not allow this (e.g. someone else has it).",
    415: "The body is not sent as application/json.",
    422: "Invalid values: `error.fields` holds the messages per field.",
}
PATH_VALUE = re.compile(r"<(?:int:)?(\w+)>")


def document(app: Flask) -> dict:
    """The OpenAPI document, built once per app."""
    if "api_openapi" not in app.extensions:
        app.extensions["api_openapi"] = _build(app)
    return app.extensions["api_openapi"]


def _build(app: Flask) -> dict:
    spec = APISpec(
        title="Helpline staff API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Conversations, follow-up sessions and report figures for staff. "
            "Authenticate with a personal API token (see docs/api.md)."
        },
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme(
        "token", {"type": "http", "scheme": "bearer", "description": "hl_<prefix>_<secret>"}
    )
    spec.components.schema("Error", schema=schemas.ErrorOut)
    for status, text in ERRORS.items():
        spec.components.response(
            str(status),
            {"description": text, "content": {"application/json": {"schema": schemas.ErrorOut}}},
        )
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        operation = getattr(view, "operation", None)
        if operation is None:
            continue
        path = PATH_VALUE.sub(r"{\1}", rule.rule.removeprefix("/api/v1"))
        method = next(m for m in rule.methods if m not in ("HEAD", "OPTIONS")).lower()
        spec.path(path=path, operations={method: _operation(rule, operation)})
    return spec.to_dict()


def _operation(rule, operation) -> dict:
    parameters = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": schemas.INT_MAX},
        }
        for name in rule.arguments
    ]
    if operation.query is not None:
        parameters.append({"in": "query", "schema": operation.query})
    responses = {
        str(status): {
            "description": "OK" if status == 200 else "Created",
            "content": {"application/json": {"schema": schema}},
        }
        for status, schema in operation.responses.items()
    }
    codes = {401, 403, *operation.errors}
    if operation.query is not None or operation.body is not None:
        codes.add(422)
    if operation.body is not None:
        codes.update({400, 415})
    responses.update({str(code): {"$ref": f"#/components/responses/{code}"} for code in codes})
    result = {
        "summary": operation.summary,
        "operationId": rule.endpoint.removeprefix("api."),
        "tags": [operation.scope],
        "security": [{"token": []}],
        "parameters": parameters,
        "responses": responses,
    }
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.body}},
        }
    return result
