"""`fieldsync-client pending`: the changes waiting to be sent, and taking one back or fixing it.

Only a change never sent (or whose request the server refused whole) may be edited or
dropped; one in flight waits for the next sync (docs/protocol.md §6.6).
"""

from __future__ import annotations

import click

from client_sdk.cli_context import CliContext, json_option
from client_sdk.pending import parse_values
from client_sdk.render import cell, table


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def pending(ctx: click.Context) -> None:
    """List your changes not yet acknowledged by the server (`list`, `edit`, `drop`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_pending)


@pending.command("list")
@json_option
@click.pass_obj
def list_pending(config: CliContext) -> None:
    """List pending changes, oldest first; "in flight" ones are being sent."""
    items = [c.to_dict() for c in config.client().pending_changes()]
    rows = [{**item, "fields": ", ".join(f"{k}={cell(v)}" for k, v in item["fields"].items()),
             "state": "in flight" if item["in_flight"] else "queued"} for item in items]
    config.emit(items, lambda: table(rows, ("mutation_id", "entity", "id", "op", "state",
                                            "fields")))


@pending.command("edit")
@click.argument("mutation_id", type=int)
@click.argument("values", nargs=-1, required=True, metavar="FIELD=VALUE...")
@json_option
@click.pass_obj
def edit(config: CliContext, mutation_id: int, values: tuple[str, ...]) -> None:
    """Change values of a pending create or update (a JSON value, or text)."""
    change = config.client().edit_pending(mutation_id, parse_values(list(values)))
    config.emit(change.to_wire(), f"Edited pending change {mutation_id}.")


@pending.command("drop")
@click.argument("mutation_id", type=int)
@json_option
@click.pass_obj
def drop(config: CliContext, mutation_id: int) -> None:
    """Take back a pending change; dropping a create drops the record's later changes."""
    dropped = config.client().drop_pending(mutation_id)
    config.emit({"dropped": dropped},
                f"Dropped pending change{'s' if len(dropped) > 1 else ''} "
                f"{', '.join(map(str, dropped))}.")
