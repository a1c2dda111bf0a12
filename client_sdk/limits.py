"""The server's published field rules and request limits, checked before a change is queued.

The server describes its entities at GET /sync/entities (docs/protocol.md §4): each field's
`max_length`, `min_length` and `pattern`, and the request limits. The SDK keeps the last
answer in the replica, so the checks hold offline; with none stored yet it checks nothing
and the server rejects per mutation what breaks a rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from client_sdk.errors import LocalValidationError

# The server's default MAX_CONTENT_LENGTH: the largest push body when it published none.
DEFAULT_MAX_REQUEST_BYTES = 10 * 2**20
# Room for the push envelope around the mutations: {"protocol":1,"mutations":[...]}.
ENVELOPE_BYTES = 64


class FieldRules:
    """The rules of one server, from its GET /sync/entities answer (or none)."""

    def __init__(self, described: Mapping[str, Any] | None = None):
        described = described or {}
        self.fields: dict[str, dict[str, dict[str, Any]]] = {
            e["entity"]: {f["name"]: f for f in e.get("fields", ())}
            for e in described.get("entities", ())}
        limits = described.get("limits") or {}
        self.max_request_bytes = int(limits.get("max_request_bytes")
                                     or DEFAULT_MAX_REQUEST_BYTES)
        self._patterns: dict[str, re.Pattern] = {}

    @classmethod
    def from_text(cls, text: str | None) -> FieldRules:
        return cls(json.loads(text) if text else None)

    def check(self, entity: str, fields: Mapping[str, Any]) -> None:
        """Raise LocalValidationError naming each text field whose value is too long, too
        short or off its pattern, as the server would reject it (`validation_failed`)."""
        rules = self.fields.get(entity, {})
        errors = {name: problems for name, value in fields.items()
                  if isinstance(value, str) and name in rules
                  and (problems := self._problems(rules[name], value))}
        if errors:
            said = "; ".join(f"{name}: {' '.join(problems)}"
                             for name, problems in sorted(errors.items()))
            raise LocalValidationError(f"{entity} breaks the server's rules: {said}", errors)

    def _problems(self, rule: Mapping[str, Any], value: str) -> list[str]:
        problems = []
        if rule.get("max_length") is not None and len(value) > rule["max_length"]:
            problems.append(f"Longer than maximum length {rule['max_length']}.")
        if rule.get("min_length") and len(value) < rule["min_length"]:
            problems.append(f"Shorter than minimum length {rule['min_length']}.")
        if rule.get("pattern") and not self._pattern(rule["pattern"]).fullmatch(value):
            problems.append(f"Must be {rule.get('format') or 'like ' + rule['pattern']}.")
        return problems

    def _pattern(self, text: str) -> re.Pattern:
        if text not in self._patterns:
            self._patterns[text] = re.compile(text)
        return self._patterns[text]


def wire_size(text: str) -> int:
    """The bytes of a mutation's wire JSON in a request body (UTF-8), with its comma."""
    return (len(text) if text.isascii() else len(text.encode())) + 1
