"""A description of the replicated entities, generated from the code that enforces them.

docs/protocol.md embeds `entity_reference_markdown()` and `workflow_markdown()` (a test
keeps them equal) and GET /api/v1/sync/entities serves `describe_entities()` to clients in
any language.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields as mf
from marshmallow import validate

from server.domain.entities import REGISTRY
from server.domain.vocabulary import Role
from server.domain.wire_fields import UTCDateTime, UUIDString
from server.domain.workflows import WORKFLOWS
from sync.entities import Inherit
from sync.workflows import Workflow

WIRE_TYPES = [
    (UUIDString, "uuid"), (UTCDateTime, "timestamp"), (mf.Email, "email"),
    (mf.Enum, "enum"), (mf.Decimal, "decimal string"), (mf.Integer, "integer"),
    (mf.Boolean, "boolean"), (mf.Date, "date"), (mf.String, "string"),
]


def _wire_type(field: mf.Field) -> str:
    for cls, name in WIRE_TYPES:
        if isinstance(field, cls):
            if name == "enum":
                return "enum: " + " | ".join(m.value for m in field.enum)
            return name
    return type(field).__name__


def _rules(field: mf.Field) -> dict[str, Any]:
    """The field's limits from its own validators: lengths in characters (Unicode code
    points), a pattern the whole value matches, an inclusive numeric range."""
    rules: dict[str, Any] = {"max_length": None, "min_length": None, "pattern": None,
                             "format": field.metadata.get("format"), "minimum": None,
                             "maximum": None}
    for check in field.validators:
        if isinstance(check, validate.Length):
            rules["max_length"], rules["min_length"] = check.max, check.min or None
        elif isinstance(check, validate.Regexp):
            rules["pattern"] = check.regex.pattern
        elif isinstance(check, validate.Range):
            rules["minimum"], rules["maximum"] = _number(check.min), _number(check.max)
    return rules


def _number(value: Any) -> str | int | None:
    return value if value is None or isinstance(value, int) else str(value)


def describe_entities() -> list[dict[str, Any]]:
    out = []
    for spec in REGISTRY:
        policy = spec.merge_policy
        schema = spec.codec.schema
        fields = []
        for name, field in schema.fields.items():
            fields.append({
                "name": name,
                "type": _wire_type(field),
                "required": bool(field.required),
                "nullable": bool(field.allow_none),
                "server_owned": bool(field.dump_only),
                "references": spec.references.get(name),
                "policy": str(policy.for_field(name).kind),
                **_rules(field),
            })
        scope = (f"inherited from {spec.scope.entity}" if isinstance(spec.scope, Inherit)
                 else "own")
        out.append({
            "entity": spec.name,
            "fields": fields,
            "scope": scope,
            "on_update_deleted": str(policy.on_update_deleted),
            "on_delete_updated": str(policy.on_delete_updated),
            "append_only": policy.append_only,
            "workflow": describe_workflow(spec.workflow) if spec.workflow else None,
        })
    return out


def describe_workflow(flow: Workflow) -> dict[str, Any]:
    """A workflow as data: its field, states (in merge precedence), the states each role
    may create a record in, and each move with the roles that may make it."""
    return {
        "field": flow.field,
        "states": [str(s) for s in flow.states],
        "initial": {str(role): _ordered(flow, states) for role, states in flow.initial.items()},
        "moves": [{"from": str(a), "to": str(b), "roles": _roles(roles)}
                  for (a, b), roles in _sorted_moves(flow)],
        "deletable": None if flow.deletable is None else {
            str(role): _ordered(flow, flow.deletable.get(role, ())) for role in Role
            if role in flow.deletable},
    }


def _ordered(flow: Workflow, states) -> list[str]:
    return [str(s) for s in flow.states if s in states]


def _roles(roles) -> list[str]:
    return [str(r) for r in Role if r in roles]


def _sorted_moves(flow: Workflow):
    rank = {s: i for i, s in enumerate(flow.states)}
    return sorted(flow.moves.items(), key=lambda item: (rank[item[0][0]], rank[item[0][1]]))


def workflow_markdown() -> str:
    """One table per workflow: who may create a record in which state, and each move."""
    lines = []
    for entity, flow in WORKFLOWS.items():
        described = describe_workflow(flow)
        lines += [f"#### `{entity}.{flow.field}`", "",
                  "States, in merge precedence: " +
                  " < ".join(f"`{s}`" for s in described["states"]) + ".", "",
                  "| move | roles |", "|---|---|"]
        for role, states in described["initial"].items():
            lines.append(f"| create as {', '.join(f'`{s}`' for s in states)} | `{role}` |")
        for move in described["moves"]:
            lines.append(f"| `{move['from']}` → `{move['to']}` | "
                         f"{', '.join(f'`{r}`' for r in move['roles'])} |")
        for role, states in (described["deletable"] or {}).items():
            lines.append(f"| delete when {', '.join(f'`{s}`' for s in states)} | `{role}` |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def entity_reference_markdown() -> str:
    lines = []
    for entity in describe_entities():
        lines.append(f"### `{entity['entity']}`")
        lines.append("")
        lines.append(
            f"Update vs delete: `{entity['on_update_deleted']}`; delete vs update: "
            f"`{entity['on_delete_updated']}`; append-only: "
            f"{'yes' if entity['append_only'] else 'no'}."
        )
        lines.append("")
        lines.append("| field | type | on create | policy | notes |")
        lines.append("|---|---|---|---|---|")
        for f in entity["fields"]:
            create = ("server-owned" if f["server_owned"]
                      else "required" if f["required"] else "optional")
            notes = []
            if f["references"]:
                notes.append(f"references `{f['references']}`")
            if f["nullable"]:
                notes.append("may be null")
            notes += _rule_notes(f)
            lines.append(f"| `{f['name']}` | {f['type']} | {create} | {f['policy']} | "
                         f"{'; '.join(notes)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _rule_notes(f: dict[str, Any]) -> list[str]:
    notes = []
    if f["format"]:
        notes.append(f"{f['format']} (`{f['pattern']}`)")
    elif f["pattern"]:
        notes.append(f"matches `{f['pattern']}`")
    if f["max_length"] is not None:
        low = f"{f['min_length']} to " if f["min_length"] else "at most "
        notes.append(f"{low}{f['max_length']:,} characters")
    if f["minimum"] is not None or f["maximum"] is not None:
        notes.append(_range_note(f["minimum"], f["maximum"]))
    return notes


def _range_note(low: Any, high: Any) -> str:
    if high is None:
        return f"at least {low}"
    return f"at most {high}" if low is None else f"from {low} to {high}"


if __name__ == "__main__":
    import sys

    print(workflow_markdown() if sys.argv[1:] == ["workflows"] else entity_reference_markdown(),
          end="")
