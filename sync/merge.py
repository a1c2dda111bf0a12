"""Pure conflict resolution: (base, ours, theirs, policy) -> result. No IO, no clock.

"Ours" is the record as the server holds it now, "theirs" the device's mutation, "base" the
values the device started from. The server runs this on push; the client SDK runs the very
same code to rebase its pending edits on newer server versions, so both resolve alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sync.policies import EntityPolicy, FieldPolicy, Policy
from sync.protocol import FieldConflict

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


class MergeError(ValueError):
    """The mutation cannot be merged as sent (e.g. a counter without its base value)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FieldMerge:
    """Fields whose value changes, and the conflicts decided on the way."""

    values: dict[str, Any]
    conflicts: tuple[FieldConflict, ...]


def resolve_field(
    policy: FieldPolicy, base: Any, ours: Any, theirs: Any, ours_hlc: str, theirs_hlc: str
) -> tuple[Any, bool]:
    """Decide a field both sides changed. Returns (value, left_open)."""
    kind = policy.kind
    if kind is Policy.SERVER_WINS:
        return ours, False
    if kind is Policy.CLIENT_WINS:
        return theirs, False
    if kind is Policy.MANUAL:
        return ours, True
    if kind is Policy.STATE:
        if not policy.may_move(ours, theirs):  # a move nobody may make: the server's stays
            return ours, False
        rank_ours, rank_theirs = policy.ranks.get(ours, -1), policy.ranks.get(theirs, -1)
        if rank_ours != rank_theirs:
            return (theirs if rank_theirs > rank_ours else ours), False
    return (theirs if theirs_hlc > ours_hlc else ours), False


def merge_counter(name: str, base: Any, ours: Any, theirs: Any) -> Any:
    """A counter merges as an increment: ours + (theirs - base), keeping the wire type."""
    if base is MISSING or base is None:
        raise MergeError(name, "a counter change must carry the base value it was made from")
    try:
        delta = Decimal(str(theirs)) - Decimal(str(base))
        total = Decimal(str(ours if ours is not None else 0)) + delta
    except InvalidOperation as exc:
        raise MergeError(name, "counter values must be numbers") from exc
    if isinstance(theirs, int) and not isinstance(theirs, bool):
        return int(total)
    return str(total) if isinstance(theirs, str) else float(total)


def merge_fields(
    *,
    current: Mapping[str, Any],
    base: Mapping[str, Any],
    incoming: Mapping[str, Any],
    policy: EntityPolicy,
    current_hlc: str,
    incoming_hlc: str,
) -> FieldMerge:
    """Three-way merge of one mutation's fields onto the current record.

    A field is taken from `incoming` when the server has not changed it since `base`, kept
    when the device did not really change it, and handed to the field's policy when both
    changed it to different values. A field missing from `base` counts as changed on both
    sides unless the values already agree. Raises MergeError for an unmergeable counter.
    """
    values: dict[str, Any] = {}
    conflicts: list[FieldConflict] = []
    for name, theirs in incoming.items():
        ours, was = current.get(name), base.get(name, MISSING)
        field_policy = policy.for_field(name)
        if field_policy.kind is Policy.COUNTER:
            merged = merge_counter(name, was, ours, theirs)
            if merged != ours:
                values[name] = merged
            continue
        if theirs == ours or (was is not MISSING and theirs == was):
            continue
        if was is not MISSING and ours == was:
            values[name] = theirs
            continue
        result, left_open = resolve_field(
            field_policy, was, ours, theirs, current_hlc, incoming_hlc
        )
        conflicts.append(
            FieldConflict(
                field=name,
                kind="field",
                policy=str(field_policy.kind),
                base=None if was is MISSING else was,
                server=ours,
                client=theirs,
                result=result,
                open=left_open,
            )
        )
        if result != ours:
            values[name] = result
    return FieldMerge(values, tuple(conflicts))
