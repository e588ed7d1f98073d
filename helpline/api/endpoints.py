"""How an API endpoint is declared: `@endpoint` authenticates, validates and dumps.

Each endpoint declares its schemas once, in `@endpoint`: the same schemas validate the request,
shape the answer and make the OpenAPI document.
"""

import functools
from dataclasses import dataclass, field

from flask import jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import BadRequest

from helpline.api import schemas
from helpline.api import service as api
from helpline.inbox.errors import NotFound


@dataclass
class Operation:
    """What the OpenAPI document says of one endpoint."""

    summary: str
    scope: str | None
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    responses: dict[int, type[Schema] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()


def endpoint(
    summary: str,
    *,
    scope: str | None,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    responses: dict[int, type[Schema] | None],
    errors: tuple[int, ...] = (),
):
    """Authenticate, validate the query and JSON body, call the view, dump its answer.

    The view gets the user, its path values, and `query` and `body` as loaded; it returns the
    answer's data, or (data, status) when more than one status is documented.
    """
    operation = Operation(summary, scope, query, body, responses, errors)

    def decorate(view):
        @functools.wraps(view)
        def run(**path):
            user = api.authenticate(request.headers.get("Authorization"))
            api.require_scope(user, scope)
            for name, value in path.items():
                if isinstance(value, int) and value > schemas.INT_MAX:
                    raise NotFound(f"No such {name.removesuffix('_id')}.")
            if query is not None:
                path["query"] = query().load(_query_values(query))
            if body is not None:
                path["body"] = body().load(_json_object())
            answer = view(user, **path)
            data, status = answer if isinstance(answer, tuple) else (answer, min(responses))
            return jsonify(responses[status]().dump(data)), status

        run.operation = operation
        return run

    return decorate


def _query_values(schema: type[Schema]) -> dict:
    values = {}
    for name, declared in schema().fields.items():
        key = declared.data_key or name
        if key not in request.args:
            continue
        if isinstance(declared, fields.List):
            values[key] = request.args.getlist(key)
        else:
            values[key] = request.args[key]
    return values


def _json_object():
    # get_json raises 400 for malformed JSON and 415 without a JSON content type; the decoder
    # gives up on very deep nesting with a RecursionError, which is no error of the server.
    try:
        return request.get_json()
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None
