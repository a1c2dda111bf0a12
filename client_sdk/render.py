"""How the CLI shows records to a person: aligned tables and field lists.

Tables show the first eight characters of ids (commands accept any unique prefix); `--json`
output never goes through here and always carries full ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SHORT_ID = 8
MAX_CELL = 40

# The columns a table of each entity shows after the id; `show` prints every field.
COLUMNS: dict[str, tuple[str, ...]] = {
    "territory": ("code", "name", "region"),
    "product": ("sku", "name", "unit", "active"),
    "price_list": ("name", "currency", "valid_from", "valid_to", "active"),
    "price": ("price_list_id", "product_id", "unit_price"),
    "part": ("part_number", "name", "unit_cost"),
    "account": ("name", "city", "status", "phone"),
    "contact": ("first_name", "last_name", "account_id", "phone"),
    "visit": ("account_id", "status", "planned_at", "outcome"),
    "order": ("account_id", "status", "ordered_at"),
    "order_line": ("order_id", "product_id", "quantity", "unit_price", "line_total"),
    "asset": ("name", "model", "account_id"),
    "work_order": ("number", "title", "status", "priority", "account_id"),
    "van_stock": ("part_id", "quantity"),
    "part_used": ("work_order_id", "part_id", "quantity"),
    "time_entry": ("work_order_id", "kind", "started_at", "minutes"),
    "checklist_item": ("work_order_id", "position", "label", "checked", "answer"),
    "attachment": ("work_order_id", "kind", "filename", "size_bytes"),
}


def is_id_column(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def cell(value: Any, *, short_id: bool = False, limit: int | None = MAX_CELL) -> str:
    """One value as text: yes/no for booleans, blank for null, ids shortened on request,
    long text cut at `limit` characters (None: never)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    if short_id:
        return text[:SHORT_ID]
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """An aligned text table with a header row; "(none)" when there are no rows.

    Cells are cut to MAX_CELL characters except in the last column, which may run on.
    """
    last = len(columns) - 1
    cells = [[cell(row.get(c), short_id=is_id_column(c), limit=None if i == last else MAX_CELL)
              for i, c in enumerate(columns)] for row in rows]
    if not cells:
        return "(none)"
    header = [c.upper() for c in columns]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(columns))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths,
                                                                        strict=True)).rstrip()
                     for line in [header, *cells])


def record_table(entity: str, records: Iterable[Mapping[str, Any]]) -> str:
    """Records of one entity as a table of their summary columns."""
    return table(records, ("id", *COLUMNS.get(entity, ())))


def fields(values: Mapping[str, Any]) -> str:
    """Every field on its own line, `name: value`, names aligned; ids in full."""
    width = max((len(name) for name in values), default=0)
    return "\n".join(f"{name + ':':<{width + 1}} {cell(value, limit=None)}".rstrip()
                     for name, value in values.items())


def to_json(value: Any) -> str:
    """JSON for scripts: indented, keys in the order given, non-ASCII kept readable."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
