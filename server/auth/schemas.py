"""marshmallow schemas of the auth endpoints' bodies and answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

MAX_PASSWORD_INPUT = 1024


class TrimmedString(fields.String):
    """A string with surrounding whitespace removed before validation."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class CanonicalUUID(fields.UUID):
    """A UUID in any form uuid.UUID reads, loaded as its canonical lowercase string."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


class LoginSchema(Schema):
    """POST /auth/login. Emails are not validated as addresses here: a wrong one is simply
    wrong credentials."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True,
                             validate=validate.Length(min=1, max=MAX_PASSWORD_INPUT))
    device_name = TrimmedString(required=True, validate=validate.Length(min=1, max=120))
    # The client installation (one replica) signing in, a UUID it generated once; optional
    # for clients written before it was asked for (docs/protocol.md §3).
    installation_id = CanonicalUUID(load_default=None, allow_none=True)


class RefreshSchema(Schema):
    """POST /auth/refresh."""

    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=256))


class UserSchema(Schema):
    """A user as the signed-in client sees itself."""

    id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    territory_ids = fields.Function(lambda user: sorted(t.id for t in user.territories))


class DeviceSchema(Schema):
    """A device as its own client sees it."""

    id = fields.String()
    name = fields.String()


class SessionSchema(Schema):
    """The answer of login and refresh (a server.auth.sessions.SignedIn)."""

    access_token = fields.String()
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer()
    refresh_token = fields.String()
    refresh_expires_in = fields.Integer()
    user = fields.Nested(UserSchema)
    device = fields.Nested(DeviceSchema)


class MeSchema(Schema):
    """The answer of GET /auth/me."""

    user = fields.Nested(UserSchema)
    device = fields.Nested(DeviceSchema)
