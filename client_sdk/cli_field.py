"""The field actions of `fieldsync-client`: visits, orders, accounts, work orders.

Each command writes to the replica only (it works offline) and says how many changes are
waiting for `fieldsync-client sync`. Records may be named by id, unique id prefix, or their
code: territory code, product SKU, part number, work order number, account number.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from client_sdk.cli_context import MOMENT, CliContext, json_option, label, resolve, short
from client_sdk.client import SyncClient
from client_sdk.field import CreatedOrder
from client_sdk.render import table

pass_config = click.pass_obj


@click.group()
def visit() -> None:
    """Plan, check in at and complete customer visits (reps)."""


@visit.command("plan")
@click.argument("account")
@click.option("--at", "planned_at", type=MOMENT, required=True,
              help="When, ISO 8601 (without a zone: local time).")
@click.option("--notes")
@json_option
@pass_config
def plan_visit(config: CliContext, account: str, planned_at: datetime, notes: str | None):
    """Plan a visit to ACCOUNT."""
    client = config.client()
    account_id = resolve(client, "account", account)
    visit_id = config.field().plan_visit(account_id, planned_at, notes)
    config.done(f"Planned visit {short(visit_id)} to {label(client, 'account', account_id)} "
                f"at {client.get('visit', visit_id)['planned_at']}.", {"id": visit_id})


@visit.command("checkin")
@click.argument("visit_id", metavar="VISIT")
@click.option("--lat", "latitude", help="Latitude in decimal degrees.")
@click.option("--lon", "longitude", help="Longitude in decimal degrees.")
@json_option
@pass_config
def check_in(config: CliContext, visit_id: str, latitude: str | None, longitude: str | None):
    """Check in at VISIT now."""
    visit_id = resolve(config.client(), "visit", visit_id)
    config.field().check_in(visit_id, latitude, longitude)
    config.done(f"Checked in at visit {short(visit_id)}.", {"id": visit_id})


@visit.command("complete")
@click.argument("visit_id", metavar="VISIT")
@click.option("--outcome", required=True, help="What came of it, in a few words.")
@click.option("--notes")
@json_option
@pass_config
def complete_visit(config: CliContext, visit_id: str, outcome: str, notes: str | None):
    """Complete VISIT now with its outcome."""
    visit_id = resolve(config.client(), "visit", visit_id)
    config.field().complete_visit(visit_id, outcome, notes)
    config.done(f"Completed visit {short(visit_id)}.", {"id": visit_id})


# -- orders and accounts ---------------------------------------------------------------------


def _line(client: SyncClient, text: str) -> tuple[str, int, str]:
    """PRODUCT:QUANTITY[:DISCOUNT] with the product as SKU, id or id prefix."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        quantity = int(parts[1])
    except ValueError:
        raise click.BadParameter(f"{text!r} is not PRODUCT:QUANTITY[:DISCOUNT]",
                                 param_hint="--line") from None
    return resolve(client, "product", parts[0]), quantity, parts[2] if len(parts) == 3 else "0"


def _order_text(client: SyncClient, order: CreatedOrder) -> str:
    rows = [{**asdict(line), "product": label(client, "product", line.product_id)}
            for line in order.lines]
    return (table(rows, ("product", "quantity", "discount_pct", "unit_price", "line_total"))
            + f"\nTotal: {order.total} (priced here; the server's price is final)")


line_option = click.option("--line", "lines", multiple=True, metavar="PRODUCT:QTY[:DISCOUNT]",
                           help="An order line, the product by SKU or id (repeat).")


@click.group()
def order() -> None:
    """Take and submit orders (reps)."""


@order.command("create")
@click.argument("account")
@line_option
@click.option("--visit", "visit_id", help="The visit the order was taken on.")
@click.option("--notes")
@json_option
@pass_config
def create_order(config: CliContext, account: str, lines: tuple[str, ...],
                 visit_id: str | None, notes: str | None):
    """Create a draft order for ACCOUNT, priced from the local price list."""
    client = config.client()
    if not lines:
        raise click.UsageError("an order needs at least one --line")
    created = config.field().create_order(
        resolve(client, "account", account), [_line(client, text) for text in lines],
        visit_id=resolve(client, "visit", visit_id) if visit_id else None, notes=notes)
    config.done(f"Created order {short(created.order_id)}:\n{_order_text(client, created)}",
                asdict(created))


@order.command("submit")
@click.argument("order_id", metavar="ORDER")
@json_option
@pass_config
def submit_order(config: CliContext, order_id: str):
    """Submit ORDER to the office."""
    order_id = resolve(config.client(), "order", order_id)
    config.field().submit_order(order_id)
    config.done(f"Submitted order {short(order_id)}.", {"id": order_id})


@click.group()
def account() -> None:
    """Create accounts (reps)."""


ACCOUNT_OPTIONS = ("phone", "email", "street", "city", "postal_code", "country", "status")


@account.command("create")
@click.option("--territory", required=True, help="Territory code or id.")
@click.option("--name", required=True)
@click.option("--phone")
@click.option("--email")
@click.option("--street")
@click.option("--city")
@click.option("--postal-code")
@click.option("--country", help="Two-letter country code.")
@click.option("--status", type=click.Choice(["prospect", "active", "inactive"]))
@line_option
@json_option
@pass_config
def create_account(config: CliContext, territory: str, name: str, lines: tuple[str, ...],
                   **options: Any):
    """Create an account; with --line also a visit checked in now and an order for it."""
    client = config.client()
    territory_id = resolve(client, "territory", territory)
    extra = {k: v for k, v in options.items() if k in ACCOUNT_OPTIONS and v is not None}
    if not lines:
        account_id = config.field().create_account(territory_id, name, **extra)
        config.done(f"Created account {short(account_id)} {name}.", {"id": account_id})
        return
    new = config.field().create_account_with_order(
        territory_id, name, [_line(client, text) for text in lines], **extra)
    config.done(f"Created account {short(new.account_id)} {name}, visit "
                f"{short(new.visit_id)} (checked in) and order {short(new.order.order_id)}:\n"
                f"{_order_text(client, new.order)}", asdict(new))


# -- work orders -----------------------------------------------------------------------------


@click.group("workorder")
def work_order() -> None:
    """Start, record and complete work orders (technicians)."""


@work_order.command("start")
@click.argument("wo", metavar="WORK_ORDER")
@json_option
@pass_config
def start(config: CliContext, wo: str):
    """Start WORK_ORDER now."""
    wo_id = resolve(config.client(), "work_order", wo)
    config.field().start_work_order(wo_id)
    config.done(f"Started work order {label(config.client(), 'work_order', wo_id)}.",
                {"id": wo_id})


@work_order.command("use-part")
@click.argument("wo", metavar="WORK_ORDER")
@click.argument("part")
@click.argument("quantity", type=int)
@click.option("--notes")
@json_option
@pass_config
def use_part(config: CliContext, wo: str, part: str, quantity: int, notes: str | None):
    """Record parts used on WORK_ORDER, taken from your van.

    PART is a part number or id; QUANTITY comes off your van stock.
    """
    client = config.client()
    wo_id, part_id = resolve(client, "work_order", wo), resolve(client, "part", part)
    used_id = config.field().use_part(wo_id, part_id, quantity, notes)
    stock = client.query("van_stock", technician_id=client.user["id"], part_id=part_id)
    left = stock[0]["quantity"] if stock else None
    van = f"; {left} left in the van" if left is not None else "; not stocked in your van"
    config.done(f"Used {quantity} x {label(client, 'part', part_id)}{van}.",
                {"id": used_id, "van_stock_left": left})


@work_order.command("log-time")
@click.argument("wo", metavar="WORK_ORDER")
@click.option("--start", "started_at", type=MOMENT, required=True)
@click.option("--end", "ended_at", type=MOMENT, required=True)
@click.option("--kind", type=click.Choice(["labor", "travel"]), default="labor",
              show_default=True)
@click.option("--notes")
@json_option
@pass_config
def log_time(config: CliContext, wo: str, started_at: datetime, ended_at: datetime,
             kind: str, notes: str | None):
    """Log labor or travel time on WORK_ORDER.

    Timestamps without a zone are this computer's local time.
    """
    client = config.client()
    entry_id = config.field().log_time(resolve(client, "work_order", wo), started_at,
                                       ended_at, kind, notes)
    minutes = client.get("time_entry", entry_id)["minutes"]
    config.done(f"Logged {minutes} minutes of {kind}.", {"id": entry_id, "minutes": minutes})


@work_order.command("checklist")
@click.argument("item", metavar="CHECKLIST_ITEM")
@click.option("--unchecked", is_flag=True, help="Untick the item instead.")
@click.option("--answer", help="A written answer (e.g. a measurement).")
@json_option
@pass_config
def checklist(config: CliContext, item: str, unchecked: bool, answer: str | None):
    """Tick a checklist item, with an answer when it asks for one."""
    item_id = resolve(config.client(), "checklist_item", item)
    config.field().answer_checklist(item_id, not unchecked, answer)
    config.done(f"{'Unticked' if unchecked else 'Ticked'} "
                f"{label(config.client(), 'checklist_item', item_id)!r}.", {"id": item_id})


@work_order.command("complete")
@click.argument("wo", metavar="WORK_ORDER")
@click.option("--resolution", required=True, help="What was done.")
@click.option("--signed-by", help="Who signed for the work on site.")
@click.option("--signature", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The captured signature, a PNG image: attached to the work order.")
@json_option
@pass_config
def complete(config: CliContext, wo: str, resolution: str, signed_by: str | None,
             signature: Path | None):
    """Complete WORK_ORDER now."""
    wo_id = resolve(config.client(), "work_order", wo)
    signed = config.field().complete_work_order(wo_id, resolution, signed_by, signature)
    config.done(f"Completed work order {label(config.client(), 'work_order', wo_id)}.",
                {"id": wo_id, "signature_id": signed})


@work_order.command("attach")
@click.argument("wo", metavar="WORK_ORDER")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["photo", "signature"]), default="photo",
              show_default=True)
@json_option
@pass_config
def attach(config: CliContext, wo: str, path: Path, kind: str):
    """Attach a photo or signature (a PNG) file to WORK_ORDER.

    The record syncs with the next `sync`; the file's bytes are kept in the replica and
    upload after it, resuming where they stopped (see `status`).
    """
    attachment_id = config.field().attach(resolve(config.client(), "work_order", wo), path,
                                          kind=kind)
    size = path.stat().st_size
    config.done(f"Attached {kind} {path.name} ({size} bytes); it uploads on the next sync.",
                {"id": attachment_id})


@work_order.command("download")
@click.argument("attachment", metavar="ATTACHMENT")
@click.option("--to", "target", type=click.Path(dir_okay=False, path_type=Path),
              help="Copy the file here (default: print the cached file's path).")
@json_option
@pass_config
def download(config: CliContext, attachment: str, target: Path | None):
    """Fetch ATTACHMENT's bytes into the local cache (resuming a cut-off download)."""
    client = config.client()
    cached = client.attachments.open(resolve(client, "attachment", attachment))
    if target is not None:
        shutil.copyfile(cached, target)
    path = target or cached
    config.done(f"{path} ({path.stat().st_size} bytes)", {"path": str(path)})


GROUPS = (visit, order, account, work_order)
