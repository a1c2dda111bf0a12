"""Sync endpoints: push a batch of mutations, pull changes after a cursor.

Thin: parse with marshmallow, call the engine in the right transaction, dump. The wire
contract is docs/protocol.md.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, fields, validate

from server.auth import current_principal, login_required
from server.compiled_schema import CompiledSchema
from server.extensions import db
from server.http import NoNul, json_body, request_json
from server.metrics import count_pulled, count_push
from sync.database import read_transaction, retrying
from sync.errors import ProtocolMismatch
from sync.protocol import (
    DEFAULT_PULL_LIMIT,
    MAX_PULL_LIMIT,
    MAX_PUSH_MUTATIONS,
    PROTOCOL_VERSION,
    Mutation,
    Op,
)

bp = Blueprint("sync", __name__, url_prefix="/api/v1/sync")


ENTITY_MAX, ID_MAX, HLC_MAX = 40, 36, 64  # characters
INT64_MAX = 2**63 - 1  # mutation ids and versions are stored as signed 64-bit integers


class MutationSchema(Schema):
    mutation_id = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=1, max=INT64_MAX))
    entity = fields.String(required=True,
                           validate=[validate.Length(min=1, max=ENTITY_MAX), NoNul()])
    id = fields.String(required=True, validate=[validate.Length(min=1, max=ID_MAX), NoNul()])
    op = fields.Enum(Op, by_value=True, required=True)
    base_version = fields.Integer(strict=True, allow_none=True, load_default=None)
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), load_default=dict)
    base = fields.Dict(keys=fields.String(), load_default=dict)
    hlc = fields.String(allow_none=True, load_default=None,
                        validate=[validate.Length(max=HLC_MAX), NoNul()])


class PushSchema(Schema):
    protocol = fields.Integer(required=True, strict=True)
    mutations = fields.List(fields.Nested(MutationSchema), required=True,
                            validate=validate.Length(max=MAX_PUSH_MUTATIONS))


PUSH_SCHEMA = CompiledSchema(PushSchema())


# The push body as msgspec reads it: the same fields and rules as PushSchema, checked while
# the JSON is parsed (a 500-mutation body in about 0.6 ms instead of 3 to 5). Whatever it
# refuses, PushSchema reads again and refuses with its own error; what it takes, PushSchema
# would take alike (tests/server/test_compiled_schema.py holds the two to that). Field
# values are scalars here: a nested one takes the slow path, which bounds its depth
# (server.http.parse_json) before anything recurses into it.
Scalar = str | int | float | bool | None


class FastMutation(msgspec.Struct, forbid_unknown_fields=True):
    mutation_id: Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)]
    entity: Annotated[str, msgspec.Meta(min_length=1, max_length=ENTITY_MAX)]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX)]
    op: Op
    base_version: int | None = None
    fields: dict[str, Scalar] = {}
    base: dict[str, Scalar] = {}
    hlc: Annotated[str, msgspec.Meta(max_length=HLC_MAX)] | None = None


class FastPush(msgspec.Struct, forbid_unknown_fields=True):
    protocol: int
    mutations: Annotated[list[FastMutation], msgspec.Meta(max_length=MAX_PUSH_MUTATIONS)]


FAST_PUSH = msgspec.json.Decoder(FastPush)


def pushed() -> tuple[Any, list[Mutation]]:
    """The push body's protocol and mutations: read by `fast_push` when it takes the body,
    else through PUSH_SCHEMA (which raises the error)."""
    body = fast_push(request.get_data(cache=True)) if request.is_json else None
    if body is not None:
        return body.protocol, [
            Mutation(m.mutation_id, m.entity, m.id, m.op, m.base_version, m.fields,
                     m.base, m.hlc) for m in body.mutations]
    body = PUSH_SCHEMA.load(request_json())
    return body["protocol"], [
        Mutation(m["mutation_id"], m["entity"], m["id"], m["op"], m["base_version"],
                 m["fields_"], m["base"], m["hlc"]) for m in body["mutations"]]


def fast_push(data: bytes) -> FastPush | None:
    """The body as FAST_PUSH reads it, or None when PUSH_SCHEMA must read it.

    A NUL character (only ever sent escaped, as \\u0000) takes the slow path too: in a
    mutation's envelope PUSH_SCHEMA refuses the batch; in its fields the entity's codec
    rejects that mutation alone."""
    if b"\\" in data and b"\\u0000" in data:  # one byte is found much quicker than six
        return None
    try:
        return FAST_PUSH.decode(data)
    except (msgspec.MsgspecError, RecursionError):  # too deep: no MsgspecError but this
        return None


class PullSchema(Schema):
    protocol = fields.Integer(required=True, strict=True)
    cursor = fields.String(allow_none=True, load_default=None)
    limit = fields.Integer(strict=True, load_default=DEFAULT_PULL_LIMIT,
                           validate=validate.Range(min=1, max=MAX_PULL_LIMIT))


_PULL_SCHEMA = PullSchema()  # a schema holds no state between loads; building one is not free


def sync_engine():
    return current_app.extensions["fieldsync.sync"]


def _check_protocol(protocol: Any) -> None:
    if protocol != PROTOCOL_VERSION:
        raise ProtocolMismatch(f"this server speaks sync protocol {PROTOCOL_VERSION}",
                               fields={"protocol": [f"expected {PROTOCOL_VERSION}"]})


@bp.post("/push")
@login_required()
def push():
    protocol, mutations = pushed()
    _check_protocol(protocol)
    principal = current_principal()
    results = retrying(db.engine, lambda conn: sync_engine().push_json(
        conn, principal.actor(principal.device_id), mutations))
    count_push(mutations, results)
    # Each result is JSON already (as stored in its receipt): splice, do not re-encode.
    text = f'{{"protocol":{PROTOCOL_VERSION},"results":[{",".join(results)}]}}'
    return Response(text, mimetype="application/json")


@bp.post("/pull")
@login_required()
def pull():
    body = json_body(_PULL_SCHEMA)
    _check_protocol(body["protocol"])
    principal = current_principal()
    with read_transaction(db.engine) as conn:
        page = sync_engine().pull(conn, principal.keys, body["cursor"], body["limit"])
    count_pulled(len(page.changes))
    # The changes are JSON already: splice them in rather than parse and re-serialise.
    head = json.dumps({"protocol": PROTOCOL_VERSION, "cursor": page.cursor,
                       "more": page.more, "phase": page.phase, "progress": page.progress})
    text = head[:-1] + ',"changes":[' + ",".join(page.changes) + "]}"
    return Response(text, mimetype="application/json")


@bp.get("/entities")
@login_required()
def entities():
    """The replicated entities, their fields, wire types, rules and conflict policies, the
    limits of requests and pages, and of attachment bytes."""
    from server.blobs.limits import current_limits
    from server.domain.describe import describe_entities

    limits = {"max_request_bytes": current_app.config["MAX_CONTENT_LENGTH"],
              "max_push_mutations": MAX_PUSH_MUTATIONS, "max_pull_limit": MAX_PULL_LIMIT,
              "pull_page_bytes": sync_engine().page_bytes}
    return {"protocol": PROTOCOL_VERSION, "entities": describe_entities(), "limits": limits,
            "attachments": current_limits().describe()}
