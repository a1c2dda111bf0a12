"""Wire types of the sync protocol; docs/protocol.md is their prose contract."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sync.frozen import quick_init

PROTOCOL_VERSION = 1

# No text on the wire may hold U+0000 (docs/protocol.md §2): PostgreSQL cannot store it.
NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (U+0000)"


# One encoder for every call: json.dumps with options builds a new one each time.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


# A str as compact_json encodes it, without the dispatch on the value's type: for JSON
# spliced together from pieces (push results, pull pages).
json_string = json.encoder.encode_basestring


def compact_json(value: Any) -> str:
    """JSON with no spaces and non-ASCII kept: how a record's data is stored and sent, by
    the server and the SDK alike."""
    return _COMPACT.encode(value)


_FAST = msgspec.json.Encoder()


def record_json(data: Any) -> str:
    """A record's data (decoded JSON) as `compact_json` writes it, through msgspec: about
    1 us for an account instead of 3.7, where the server stores a record and where the SDK
    stores a pushed record's server state. For strings, integers of any size, booleans,
    null, lists and objects with string keys the text is the same, byte for byte; a float in
    exponent form reads 1e16 rather than 1e+16, the same number (the text is only ever
    parsed back, and no entity has a float field). What msgspec refuses (a lone surrogate,
    a key that is neither a string nor a number) compact_json writes."""
    try:
        return _FAST.encode(data).decode()
    except (TypeError, ValueError):  # msgspec.EncodeError and UnicodeEncodeError are these
        return compact_json(data)

MAX_PUSH_MUTATIONS = 1000
MAX_PULL_LIMIT = 5000
# A pull page stops taking changes once their records' data passes this many bytes.
PULL_PAGE_BYTES = 4 * 2**20
DEFAULT_PULL_LIMIT = 1000


class Op(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Status(enum.StrEnum):
    """What happened to one pushed mutation."""

    APPLIED = "applied"  # the server took it as sent
    MERGED = "merged"  # applied on top of newer server changes to other fields
    CONFLICT = "conflict"  # both sides changed a field; a policy chose the outcome
    REJECTED = "rejected"  # not applied; the error says why, the payload is kept server-side


class ChangeOp(enum.StrEnum):
    PUT = "put"  # the record's current state: insert or replace
    DELETE = "delete"  # the record was deleted (tombstone)
    EVICT = "evict"  # the record left the device's scope: drop the local copy


@quick_init
@dataclass(frozen=True)
class Mutation:
    """One local change a device pushes.

    `fields` holds the new values of the fields the device changed; `base` holds the values
    those fields had in the version the device edited (`base_version`), which is what lets
    both sides tell "only I changed it" from "we both did".
    """

    mutation_id: int
    entity: str
    record_id: str
    op: Op
    base_version: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    hlc: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "mutation_id": self.mutation_id,
            "entity": self.entity,
            "id": self.record_id,
            "op": str(self.op),
            "base_version": self.base_version,
            "fields": self.fields,
            "base": self.base,
            "hlc": self.hlc,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Mutation:
        return cls(
            mutation_id=data["mutation_id"],
            entity=data["entity"],
            record_id=data["id"],
            op=Op(data["op"]),
            base_version=data.get("base_version"),
            fields=dict(data.get("fields") or {}),
            base=dict(data.get("base") or {}),
            hlc=data.get("hlc"),
        )


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """Both sides changed `field` (or one deleted what the other updated) and `policy` chose."""

    field: str | None
    kind: str
    policy: str
    base: Any
    server: Any
    client: Any
    result: Any
    open: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "kind": self.kind,
            "policy": self.policy,
            "base": self.base,
            "server": self.server,
            "client": self.client,
            "result": self.result,
            "open": self.open,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> FieldConflict:
        return cls(**{k: data.get(k) for k in cls.__slots__ if k != "open"},
                   open=bool(data.get("open")))


@quick_init
@dataclass(frozen=True)
class RecordState:
    """A record as the server holds it: what a pull sends and a push answers with."""

    entity: str
    record_id: str
    version: int
    hlc: str
    deleted: bool
    data: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "id": self.record_id,
            "version": self.version,
            "hlc": self.hlc,
            "deleted": self.deleted,
            "data": self.data,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RecordState:
        return cls(
            entity=data["entity"],
            record_id=data["id"],
            version=data["version"],
            hlc=data["hlc"],
            deleted=data["deleted"],
            data=data["data"],
        )


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


def mutation_too_large(size: int, limit: int) -> ErrorInfo:
    """The rejection a client keeps for a change it cannot send: alone it makes a push body
    larger than the server takes (docs/protocol.md §6.3). The server never saw it."""
    return ErrorInfo("mutation_too_large",
                     f"this change is {size:,} bytes on the wire; the server takes requests "
                     f"of at most {limit:,} bytes: shorten its fields and make it again",
                     {"_mutation": [f"{size} bytes, over {limit}"]})


@quick_init
@dataclass(frozen=True)
class MutationResult:
    mutation_id: int
    status: Status
    entity: str
    record_id: str
    record: RecordState | None = None
    conflicts: tuple[FieldConflict, ...] = ()
    error: ErrorInfo | None = None

    def to_json(self, *, data_json: str | None = None) -> str:
        """`compact_json(self.to_wire())`; `data_json`, when given, is the record's data
        already encoded that way and is spliced in instead of encoded again."""
        if data_json is None or self.record is None:
            return compact_json(self.to_wire())
        r = self.record
        record = (f'{{"entity":{json_string(r.entity)},"id":{json_string(r.record_id)},'
                  f'"version":{int(r.version)},"hlc":{json_string(r.hlc)},'
                  f'"deleted":{"true" if r.deleted else "false"},"data":{data_json}}}')
        conflicts = compact_json([c.to_wire() for c in self.conflicts]) if self.conflicts else "[]"
        error = compact_json(self.error.to_wire()) if self.error else "null"
        return (f'{{"mutation_id":{int(self.mutation_id)},"status":{json_string(str(self.status))},'
                f'"entity":{json_string(self.entity)},"id":{json_string(self.record_id)},'
                f'"record":{record},"conflicts":{conflicts},"error":{error}}}')

    def to_wire(self) -> dict[str, Any]:
        return {
            "mutation_id": self.mutation_id,
            "status": str(self.status),
            "entity": self.entity,
            "id": self.record_id,
            "record": self.record.to_wire() if self.record else None,
            "conflicts": [c.to_wire() for c in self.conflicts],
            "error": self.error.to_wire() if self.error else None,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> MutationResult:
        error = data.get("error")
        return cls(
            mutation_id=data["mutation_id"],
            status=Status(data["status"]),
            entity=data["entity"],
            record_id=data["id"],
            record=RecordState.from_wire(data["record"]) if data.get("record") else None,
            conflicts=tuple(FieldConflict.from_wire(c) for c in data.get("conflicts") or ()),
            error=ErrorInfo(error["code"], error["message"], error.get("fields") or {})
            if error
            else None,
        )
