"""Workflows as data: the states of a record's status field and who may move it where.

The domain declares one `Workflow` per entity with a status and hands it to the engine on
the entity's spec; the engine checks every create and every change of that field against it,
and a state-precedence merge built from it (`precedence`) never picks a move that is not
declared. The engine knows no state or role by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync.policies import FieldPolicy, Policy


@dataclass(frozen=True)
class Workflow:
    """The states of `field`, in precedence order (later states win a merge), the states
    each role may create a record in, the roles that may make each move, and the states in
    which each role may delete a record (None: wherever it may write the record at all).

    Raises ValueError when a move, an initial or a deletable state is not in `states`.
    """

    field: str
    states: tuple[str, ...]
    initial: Mapping[str, frozenset[str]]
    moves: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    deletable: Mapping[str, frozenset[str]] | None = None

    def __post_init__(self):
        named = {s for pair in self.moves for s in pair}
        for table in (self.initial, self.deletable or {}):
            named.update(s for states in table.values() for s in states)
        unknown = named - set(self.states)
        if unknown:
            raise ValueError(f"{self.field}: unknown states {sorted(unknown)}")

    def refusal(self, role: str, old: str | None, new: str | None) -> str | None:
        """Why `role` may not move a record from `old` to `new` (old None: creating it in
        `new`), or None when it may. Staying in a state is never a move."""
        if old is None:
            if new in self.initial.get(role, ()):
                return None
            return f"a {role} may not create a record as {new}"
        if old == new:
            return None
        if role in self.moves.get((old, new), ()):
            return None
        if (old, new) in self.moves:
            return f"a {role} may not move {self.field} from {old} to {new}"
        return f"{self.field} never moves from {old} to {new}"

    def delete_refusal(self, role: str, state: str | None) -> str | None:
        """Why `role` may not delete a record in `state`, or None when it may."""
        if self.deletable is None or state in self.deletable.get(role, ()):
            return None
        return f"a {role} may not delete a record that is {state}"

    def terminal(self) -> frozenset[str]:
        """States no move leaves."""
        return frozenset(self.states) - {old for old, _ in self.moves}

    def precedence(self) -> FieldPolicy:
        """The `state` merge policy of this field: later states win, declared moves only."""
        return FieldPolicy(Policy.STATE, {name: rank for rank, name in enumerate(self.states)},
                           frozenset(self.moves))


def moves(*rows: tuple[str | Iterable[str], str | Iterable[str], Iterable[str]]
          ) -> dict[tuple[str, str], frozenset[str]]:
    """A move table from rows (from, to, roles); `from` and `to` may each be several states.
    Rows naming the same move add their roles up."""
    table: dict[tuple[str, str], frozenset[str]] = {}
    for old, new, roles in rows:
        for a in _several(old):
            for b in _several(new):
                if a != b:
                    table[a, b] = table.get((a, b), frozenset()) | frozenset(roles)
    return table


def _several(states: str | Iterable[str]) -> tuple[str, ...]:
    return (states,) if isinstance(states, str) else tuple(states)
