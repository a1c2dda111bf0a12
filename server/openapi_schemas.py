"""marshmallow schemas of the answers no view dumps through a schema of its own.

The sync endpoints splice engine-made JSON and some views return dicts, so their answers
are described here, for the OpenAPI document only (server.openapi). Request bodies and the
answers views do dump are described by the views' own schemas.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from server.api.admin import AdminDeviceSchema, AdminUserSchema, DeviceOwnerSchema
from sync.protocol import Status

Nullable = {"allow_none": True}


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable; protocol.md §11"})
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class LiveSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))
    protocol = fields.Integer(required=True)


class ReadinessChecksSchema(Schema):
    database = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    migrations = fields.String(required=True,
                               validate=validate.OneOf(["ok", "behind", "ahead", "unknown"]))


class ReadySchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    protocol = fields.Integer(required=True)
    checks = fields.Nested(ReadinessChecksSchema, required=True)
    revision = fields.String(required=True, **Nullable)
    head = fields.String(required=True)


class RecordSchema(Schema):
    """A record on the wire (protocol.md §4); `data` holds the entity's fields."""

    entity = fields.String(required=True)
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    hlc = fields.String(required=True, **Nullable)
    deleted = fields.Boolean(required=True)
    data = fields.Dict(keys=fields.String(), required=True, **Nullable)


class FieldConflictSchema(Schema):
    field = fields.String(required=True)
    kind = fields.String(required=True)
    policy = fields.String(required=True)
    base = fields.Raw(required=True, **Nullable)
    server = fields.Raw(required=True, **Nullable)
    client = fields.Raw(required=True, **Nullable)
    result = fields.Raw(required=True, **Nullable)
    open = fields.Boolean(required=True)


class MutationResultSchema(Schema):
    mutation_id = fields.Integer(required=True)
    status = fields.Enum(Status, by_value=True, required=True)
    entity = fields.String(required=True)
    id = fields.String(required=True)
    record = fields.Nested(RecordSchema, required=True, **Nullable)
    conflicts = fields.List(fields.Nested(FieldConflictSchema), required=True)
    error = fields.Nested(ErrorDetailSchema, required=True, **Nullable)


class PushAnswerSchema(Schema):
    protocol = fields.Integer(required=True)
    results = fields.List(fields.Nested(MutationResultSchema), required=True)


class ChangeSchema(Schema):
    op = fields.String(required=True, validate=validate.OneOf(["put", "delete", "evict"]))
    entity = fields.String(required=True)
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    hlc = fields.String(**Nullable)
    data = fields.Dict(keys=fields.String(), **Nullable)


class ProgressSchema(Schema):
    snapshot_total = fields.Integer(required=True)
    snapshot_done = fields.Integer(required=True)


class PullAnswerSchema(Schema):
    protocol = fields.Integer(required=True)
    cursor = fields.String(required=True)
    more = fields.Boolean(required=True)
    phase = fields.String(required=True, validate=validate.OneOf(["snapshot", "changes"]))
    progress = fields.Nested(ProgressSchema, required=True)
    changes = fields.List(fields.Nested(ChangeSchema), required=True)


class LimitsSchema(Schema):
    """The limits of requests and pages (protocol.md §6.3, §7)."""

    max_request_bytes = fields.Integer(required=True)
    max_push_mutations = fields.Integer(required=True)
    max_pull_limit = fields.Integer(required=True)
    pull_page_bytes = fields.Integer(required=True)


class EntitiesAnswerSchema(Schema):
    protocol = fields.Integer(required=True)
    entities = fields.List(fields.Dict(keys=fields.String()), required=True)
    limits = fields.Nested(LimitsSchema, required=True)
    attachments = fields.Dict(keys=fields.String(), required=True,
                              metadata={"description": "limits of attachment bytes (§14.5)"})


class RecordPageSchema(Schema):
    items = fields.List(fields.Nested(RecordSchema), required=True)
    next = fields.String(required=True, **Nullable,
                         metadata={"description": "pass as ?after= for the next page"})


class ConflictSchema(Schema):
    """A kept conflict (protocol.md §10.3); the server may add fields."""

    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: true

    id = fields.String(required=True)
    entity = fields.String(required=True)
    record_id = fields.String(required=True)
    field = fields.String(**Nullable)
    status = fields.String(required=True)
    created_at = fields.String(required=True)
    resolved_at = fields.String(**Nullable)


class ConflictListSchema(Schema):
    items = fields.List(fields.Nested(ConflictSchema), required=True)
    next = fields.String(required=True, **Nullable,
                         metadata={"description": "pass as ?after= for the next page"})


class RejectionSchema(Schema):
    """A rejected mutation, kept with its full payload; the server may add fields."""

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)
    device_id = fields.String(required=True, **Nullable)
    user_id = fields.String(required=True, **Nullable)
    mutation_id = fields.Integer(required=True, **Nullable)
    entity = fields.String(required=True)
    record_id = fields.String(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", required=True)
    mutation = fields.Dict(required=True, metadata={"description": "as pushed"})
    created_at = fields.String(required=True)


class RejectionListSchema(Schema):
    items = fields.List(fields.Nested(RejectionSchema), required=True)
    next = fields.String(required=True, **Nullable,
                         metadata={"description": "pass as ?after= for the next page"})


class UserAnswerSchema(AdminUserSchema):
    territory_codes = fields.List(fields.String())
    territory_ids = fields.List(fields.String())
    created_at = fields.DateTime(**Nullable)
    updated_at = fields.DateTime(**Nullable)


class UserListSchema(Schema):
    users = fields.List(fields.Nested(UserAnswerSchema), required=True)


class DeviceAnswerSchema(AdminDeviceSchema):
    user = fields.Nested(DeviceOwnerSchema)
    revoked = fields.Boolean()
    last_seen_at = fields.DateTime(**Nullable)
    last_seen_ip = fields.String(**Nullable)
    revoked_at = fields.DateTime(**Nullable)
    installation_id = fields.String(**Nullable, metadata={
        "description": "null for a device of a client that sends no installation id"})


class DeviceListSchema(Schema):
    devices = fields.List(fields.Nested(DeviceAnswerSchema), required=True)
