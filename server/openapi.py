"""The OpenAPI 3.1 document of the HTTP API, built with apispec from the marshmallow schemas.

    GET /api/v1/openapi.json   the document
    GET /api/v1/docs           a plain HTML page listing every operation (no scripts, no CDN)

Paths come from the app's URL map, and what each operation takes and answers from
OPERATIONS below: the request schemas the views load with, the answer schemas they dump
with (or server.openapi_schemas where a view splices engine-made JSON), and the HTTP
statuses with the error codes each can carry (docs/protocol.md §11). A route missing from
OPERATIONS fails tests/server/test_openapi.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from markupsafe import escape

from server.api.admin import DeviceQuerySchema, UserCreateSchema, UserPatchSchema
from server.api.conflicts import ConflictArgs, OverrideSchema, RejectionArgs
from server.api.sync import PullSchema, PushSchema
from server.auth.schemas import LoginSchema, MeSchema, RefreshSchema, SessionSchema
from server.domain import REGISTRY
from server.errors import STATUS
from server.openapi_schemas import (
    ConflictListSchema,
    ConflictSchema,
    DeviceAnswerSchema,
    DeviceListSchema,
    EntitiesAnswerSchema,
    ErrorSchema,
    LiveSchema,
    PullAnswerSchema,
    PushAnswerSchema,
    ReadySchema,
    RecordPageSchema,
    RecordSchema,
    RejectionListSchema,
    UserAnswerSchema,
    UserListSchema,
)
from sync.protocol import MAX_PULL_LIMIT, PROTOCOL_VERSION

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

# What each error status can mean, by code: server.errors.STATUS grouped by status.
ERROR_CODES: dict[int, tuple[str, ...]] = {}
for _code, _status in STATUS.items():
    ERROR_CODES[_status] = (*ERROR_CODES.get(_status, ()), _code.value)
ERROR_NOTES = {429: " (wait for Retry-After)", 500: " (retry with backoff)",
               503: " (retry after Retry-After)"}
BUSY = 503  # a write that kept meeting concurrent writers (docs/protocol.md §6.5)
BODY_ERRORS = (400, 413, 415, 422)
OBJECT = {"type": "object", "additionalProperties": True}


@dataclass(frozen=True)
class Operation:
    """What one endpoint takes and answers, for the document."""

    summary: str
    answers: dict[int, Any]  # status -> schema (class, dict) or None for no body
    errors: tuple[int, ...] = ()
    body: Any = None
    query: list[dict] = field(default_factory=list)
    public: bool = False
    tag: str = "sync"


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"in": "query", "name": name, "required": False, "schema": schema,
            "description": description}


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
               "page size (values outside 1-500 are clamped)")

OPERATIONS: dict[str, Operation] = {
    "api.health": Operation("Liveness (the older name of /health/live)", {200: LiveSchema},
                            public=True, tag="health"),
    "health.live": Operation("Liveness: the process serves; no database access",
                             {200: LiveSchema}, public=True, tag="health"),
    "health.ready": Operation("Readiness: the database answers and its schema is at head",
                              {200: ReadySchema, 503: ReadySchema}, public=True, tag="health"),
    "metrics.metrics": Operation(
        "Prometheus metrics (METRICS_TOKEN bearer, or loopback clients only)",
        {200: "text"}, errors=(403,), public=True, tag="operations"),
    "openapi.spec": Operation("This document", {200: OBJECT}, public=True, tag="operations"),
    "openapi.docs": Operation("The operations as an HTML page", {200: "html"}, public=True,
                              tag="operations"),
    "auth.login": Operation("Sign in on a named device", {200: SessionSchema},
                            errors=(*BODY_ERRORS, 401, 403, 429), body=LoginSchema,
                            public=True, tag="auth"),
    "auth.refresh": Operation("Spend a refresh token for new tokens", {200: SessionSchema},
                              errors=(*BODY_ERRORS, 401), body=RefreshSchema, public=True,
                              tag="auth"),
    "auth.logout": Operation("Revoke the calling device's refresh tokens", {204: None},
                             tag="auth"),
    "auth.me": Operation("The calling user and device", {200: MeSchema}, tag="auth"),
    "admin.list_devices": Operation(
        "Every device with its owner (office roles)", {200: DeviceListSchema},
        errors=(403, 422), query=[{"in": "query", "schema": DeviceQuerySchema}], tag="admin"),
    "admin.revoke": Operation("Revoke a device (admins)", {200: DeviceAnswerSchema},
                              errors=(403, 404), tag="admin"),
    "admin.list_users": Operation("Every user (office roles)", {200: UserListSchema},
                                  errors=(403,), tag="admin"),
    "admin.get_user": Operation("One user (office roles)", {200: UserAnswerSchema},
                                errors=(403, 404), tag="admin"),
    "admin.create_user": Operation("Create a user (admins)", {201: UserAnswerSchema},
                                   errors=(*BODY_ERRORS, 403, 409), body=UserCreateSchema,
                                   tag="admin"),
    "admin.update_user": Operation("Change a user (admins)", {200: UserAnswerSchema},
                                   errors=(*BODY_ERRORS, 403, 404, 409), body=UserPatchSchema,
                                   tag="admin"),
    "conflicts.list_conflicts": Operation(
        "Kept conflicts, newest first (field roles: their own; protocol.md §10.3)",
        {200: ConflictListSchema}, errors=(400, 422),
        query=[{"in": "query", "schema": ConflictArgs}], tag="conflicts"),
    "conflicts.get_conflict": Operation("One conflict", {200: ConflictSchema}, errors=(404,),
                                        tag="conflicts"),
    "conflicts.override_conflict": Operation(
        "Override a conflict's outcome (office roles)", {200: ConflictSchema},
        errors=(*BODY_ERRORS, 403, 404, 409, BUSY), body=OverrideSchema, tag="conflicts"),
    "conflicts.list_rejections": Operation(
        "Rejected mutations with their payload, newest first", {200: RejectionListSchema},
        errors=(400, 422), query=[{"in": "query", "schema": RejectionArgs}], tag="conflicts"),
    "records.list_records": Operation(
        "Live records of an entity, by id (office roles)", {200: RecordPageSchema},
        errors=(403, 404), query=[_query("after", {"type": "string"}, "the previous page's "
                                         "`next`"), LIMIT], tag="records"),
    "records.get_record": Operation("One record, deleted or not (office roles)",
                                    {200: RecordSchema}, errors=(403, 404), tag="records"),
    "records.create_record": Operation(
        "Create a record; `id` optional (office roles)", {201: RecordSchema},
        errors=(*BODY_ERRORS, 403, 404, 409, BUSY), body=OBJECT, tag="records"),
    "records.update_record": Operation(
        "Change some fields of a record (office roles)", {200: RecordSchema},
        errors=(*BODY_ERRORS, 403, 404, 409, BUSY), body=OBJECT, tag="records"),
    "records.delete_record": Operation("Delete a record (office roles)", {200: RecordSchema},
                                       errors=(403, 404, 409, 422, BUSY), tag="records"),
    "records.record_history": Operation(
        "A record's audit trail by version (office roles; protocol.md §13.2)", {200: OBJECT},
        errors=(403, 404, 422), query=[_query("after", {"type": "integer"}, "the previous page's "
                                         "`next`"), LIMIT], tag="records"),
    "attachments.upload_offset": Operation(
        "How much of an attachment's bytes the server holds (HEAD; protocol.md §14.2)",
        {200: None}, errors=(404, 422), tag="attachments"),
    "attachments.upload_chunk": Operation(
        "Append a chunk at Upload-Offset, checked against Upload-Checksum (§14.2)",
        {204: None}, errors=(400, 404, 409, 413, 415, 422), tag="attachments"),
    "attachments.content": Operation(
        "An attachment's bytes; Range and If-None-Match (§14.3)",
        {200: "bytes", 206: "bytes", 304: None}, errors=(404, 416, 422), tag="attachments"),
    "attachments.thumbnail": Operation(
        "A thumbnail of an image attachment (§14.3)", {200: "bytes", 304: None},
        errors=(404, 422), tag="attachments"),
    "sync.push": Operation("Push a batch of mutations (protocol.md §6)",
                           {200: PushAnswerSchema}, errors=(*BODY_ERRORS, BUSY),
                           body=PushSchema),
    "sync.pull": Operation(f"Pull changes after a cursor, up to {MAX_PULL_LIMIT} (§7)",
                           {200: PullAnswerSchema}, errors=(*BODY_ERRORS, 410),
                           body=PullSchema),
    "sync.entities": Operation("The replicated entities, their fields and policies",
                               {200: EntitiesAnswerSchema}),
}

_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_ARGUMENT_TYPES = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}
_ENTITY = {"type": "string", "enum": sorted(spec.name for spec in REGISTRY),
           "description": "a replicated entity (GET /api/v1/sync/entities); others: 404"}


def build_spec(app: Flask, *, strict: bool = False) -> dict:
    """The OpenAPI 3.1 document of `app`'s routes.

    A route without an entry in OPERATIONS is described loosely from its view's docstring
    (any JSON answer, every error status), so the document always serves; `strict=True`
    raises KeyError instead, which is how the tests make every route documented."""
    spec = APISpec(title="fieldsync", version=_version(), openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()],
                   info={"description": f"Sync protocol {PROTOCOL_VERSION}: docs/protocol.md"},
                   security=[{"bearer": []}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorSchema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if not documented(rule):
            continue
        operation = OPERATIONS[rule.endpoint] if strict else _described(app, rule.endpoint)
        spec.path(path=_path(rule.rule), parameters=_path_parameters(rule.rule),
                  operations={method.lower(): _operation(rule.endpoint, operation)
                              for method in sorted(rule.methods - {"HEAD", "OPTIONS"})})
    return _pin_protocol(spec.to_dict())


def documented(rule) -> bool:
    """Whether a route belongs in the document: the JSON API and /metrics, not the office's
    HTML pages (server.office) nor static files."""
    return rule.rule.startswith("/api/") or rule.endpoint in OPERATIONS


def _described(app: Flask, endpoint: str) -> Operation:
    if endpoint in OPERATIONS:
        return OPERATIONS[endpoint]
    doc = (app.view_functions[endpoint].__doc__ or endpoint).strip().splitlines()[0]
    return Operation(doc, {200: OBJECT, 201: OBJECT, 204: None},
                     errors=tuple(status for status in ERROR_CODES if status != 500),
                     tag=endpoint.split(".")[0])


def _pin_protocol(document: dict) -> dict:
    """Bodies carry the one protocol version this server speaks (another: 400)."""
    schemas = document["components"]["schemas"]
    for name in ("Push", "Pull"):
        if name in schemas:
            schemas[name]["properties"]["protocol"]["enum"] = [PROTOCOL_VERSION]
    return document


def _version() -> str:
    try:
        return metadata.version("fieldsync")
    except metadata.PackageNotFoundError:
        return "0"


def _path(rule: str) -> str:
    return _ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str) -> list[dict]:
    return [{"in": "path", "name": name, "required": True,
             "schema": _ENTITY if name == "entity" else
             _ARGUMENT_TYPES.get(converter, {"type": "string"})}
            for converter, name in _ARGUMENT.findall(rule)]


def _operation(endpoint: str, operation: Operation) -> dict:
    # Any request may be refused 400: a NUL byte in any query argument (server.http's guard)
    errors = set(operation.errors) | {400, 500} | (set() if operation.public else {401})
    answer = {"operationId": endpoint.replace(".", "_"), "summary": operation.summary,
              "tags": [operation.tag], "parameters": list(operation.query),
              "responses": {**{str(s): _answer(s, schema)
                               for s, schema in operation.answers.items()},
                            **{str(s): _error(s) for s in sorted(errors)}}}
    if operation.public:
        answer["security"] = []
    if operation.body is not None:
        answer["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": operation.body}}}
    return answer


def _answer(status: int, schema: Any) -> dict:
    if schema is None:
        return {"description": "no content"}
    if schema == "text":
        return {"description": "Prometheus text format",
                "content": {"text/plain": {"schema": {"type": "string"}}}}
    if schema == "bytes":
        return {"description": "the bytes, in the attachment's content type",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    if schema == "html":
        return {"description": "an HTML page",
                "content": {"text/html": {"schema": {"type": "string"}}}}
    return {"description": "the answer" if status < 400 else "not ready",
            "content": {"application/json": {"schema": schema}}}


def _error(status: int) -> dict:
    return {"description": f"codes: {', '.join(ERROR_CODES[status])}"
                           f"{ERROR_NOTES.get(status, '')}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def spec_of(app: Flask) -> dict:
    """`app`'s document, built on first use (the routes do not change once serving)."""
    if "fieldsync.openapi" not in app.extensions:
        app.extensions["fieldsync.openapi"] = build_spec(app)
    return app.extensions["fieldsync.openapi"]


@bp.get("/openapi.json")
def spec():
    """The OpenAPI 3.1 document of this server."""
    return spec_of(current_app._get_current_object())


@bp.get("/docs")
def docs():
    """Every operation on one plain HTML page."""
    document = spec_of(current_app._get_current_object())
    rows = "".join(_row(path, method, op) for path, item in document["paths"].items()
                   for method, op in item.items() if method != "parameters")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>fieldsync API</title>"
            f"</head><body><h1>fieldsync API {escape(document['info']['version'])}</h1>"
            f"<p>The machine-readable document: <a href='openapi.json'>openapi.json</a>. "
            f"The protocol: docs/protocol.md.</p><table border='1' cellpadding='4'>"
            f"<tr><th>Method</th><th>Path</th><th>What</th><th>Answers</th></tr>{rows}"
            f"</table></body></html>"), 200, {"Content-Type": "text/html; charset=utf-8"}


def _row(path: str, method: str, op: dict) -> str:
    answers = ", ".join(op["responses"])
    token = "" if op.get("security") == [] else " (token)"
    return (f"<tr><td>{escape(method.upper())}</td><td><code>{escape(path)}</code></td>"
            f"<td>{escape(op['summary'])}{token}</td><td>{escape(answers)}</td></tr>")
