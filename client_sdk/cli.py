"""`fieldsync-client`: the field app's replica on the command line, usable offline.

    fieldsync-client login --server URL --email E --device NAME
    fieldsync-client sync                        push local changes, download the rest
    fieldsync-client status                      what is waiting, when it last synced
    fieldsync-client list ENTITY [--where F=V]   records in the replica
    fieldsync-client show ENTITY ID
    fieldsync-client visit|order|account ...     a rep's work
    fieldsync-client workorder ...               a technician's work
    fieldsync-client conflicts | rejected [discard MUTATION_ID]
    fieldsync-client pending [list | edit MUTATION_ID F=V... | drop MUTATION_ID]

Every command takes --json. Exit codes are in client_sdk.cli_context.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from client_sdk import cli_field
from client_sdk.cli_context import (
    ENTITY,
    EXIT_OFFLINE,
    CliContext,
    CliError,
    default_data_path,
    explain,
    json_option,
    label,
    resolve,
)
from client_sdk.cli_pending import pending
from client_sdk.client import SyncClient
from client_sdk.errors import FieldsyncError, OfflineError, ServerError
from client_sdk.pricing import order_total
from client_sdk.render import cell, fields, is_id_column, record_table, table
from client_sdk.syncer import SyncReport


class ClientGroup(click.Group):
    """The root group: expected SDK and replica errors become one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (FieldsyncError, sqlite3.Error) as exc:
            raise explain(exc) from exc


@click.group(cls=ClientGroup)
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              envvar="FIELDSYNC_CLIENT_DATA", default=default_data_path,
              show_default="a file in your data directory", help="The replica file.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              envvar="FIELDSYNC_CLIENT_TIMEOUT", help="Seconds to wait for the server.")
@click.option("--retries", type=click.IntRange(min=1), default=3, show_default=True,
              envvar="FIELDSYNC_CLIENT_RETRIES", help="Attempts before giving up on a request.")
@json_option
@click.version_option(package_name="fieldsync", prog_name="fieldsync-client")
@click.pass_context
def cli(ctx: click.Context, data: Path, timeout: float, retries: int) -> None:
    """Work with fieldsync offline: records live in a local replica that syncs when online."""
    config = ctx.ensure_object(CliContext)
    config.data, config.timeout, config.retries = data, timeout, retries
    ctx.call_on_close(config.close)


def main(args: list[str] | None = None) -> None:
    """Entry point of the `fieldsync-client` console script."""
    cli.main(args=args, prog_name="fieldsync-client")


# -- session ---------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True)


def _refuse_other_owner(client: SyncClient, server_url: str, email: str) -> None:
    """A replica holds one user's scope from one server: another's would mix with it."""
    user, status = client.user, client.status()
    if user is None or not (status.records or status.pending or status.rejected):
        return
    if user["email"].casefold() != email.casefold() or client.server_url != server_url:
        raise CliError(f"this replica belongs to {user['email']} on {client.server_url}; "
                       "sign in as them, or pass --data for another replica")


@cli.command()
@click.option("--server", "server_url", metavar="URL", help="The server, e.g. https://sync.example.com")
@click.option("--email", help="Your login email.")
@click.option("--device", "device_name", metavar="NAME",
              help="This device's name (default: the last one used, else the host name).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@click.pass_obj
def login(config: CliContext, server_url: str | None, email: str | None,
          device_name: str | None, password_stdin: bool) -> None:
    """Sign this device in to a server.

    Later syncs refresh the session by themselves; sign in again only when told to.
    """
    known = config.client()
    server_url = (server_url or known.server_url or "").rstrip("/")
    if not server_url:
        raise click.UsageError("the first login needs --server URL")
    email = email or (known.user or {}).get("email") or click.prompt("Email")
    _refuse_other_owner(known, server_url, email)
    device_name = device_name or known.store.meta("device_name") or socket.gethostname()
    password = _read_password(password_stdin)
    client = config.client(server_url=server_url)
    try:
        user = client.login(email, password, device_name)
    except OfflineError as exc:
        raise CliError(f"cannot reach the server at {server_url}", EXIT_OFFLINE) from exc
    except ServerError as exc:
        raise CliError(f"sign-in refused: {exc.message} ({exc.code})") from exc
    # The server's name for this installation's device: its first one, or numbered.
    device_name = client.store.meta("device_name") or device_name
    config.emit({"user": user, "device_name": device_name, "server": server_url},
                f"Signed in to {server_url} as {user['name']} <{user['email']}> ({user['role']})"
                f" on device {device_name!r}. Run `fieldsync-client sync` to download.")


@cli.command()
@json_option
@click.pass_obj
def logout(config: CliContext) -> None:
    """Sign this device out.

    Unsent changes stay in the replica and sync after the next login.
    """
    client = config.client()
    was_signed_in = client.signed_in
    told = client.logout() if was_signed_in else False
    pending = client.status().pending
    message = "Signed out." if was_signed_in else "Not signed in."
    if was_signed_in and not told:
        message += " The server could not be told; the session ends when it expires."
    if pending:
        message += f" {pending} unsent changes are kept and will sync after the next login."
    config.emit({"signed_out": was_signed_in, "server_told": told, "pending": pending},
                message)


# -- sync and status -------------------------------------------------------------------------


class DownloadProgress:
    """A progress bar (on stderr) over a first download that takes several pages."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._stack = contextlib.ExitStack()
        self._bar = None

    def __call__(self, state: dict[str, Any]) -> None:
        total, done = state.get("snapshot_total", 0), state.get("snapshot_done", 0)
        in_snapshot = state.get("phase") == "snapshot" and total > 0
        if not self.enabled or (self._bar is None and (not in_snapshot or done >= total)):
            return  # nothing to wait for
        if self._bar is None:
            self._bar = self._stack.enter_context(click.progressbar(
                length=total, label="Downloading records", file=sys.stderr))
        # The snapshot's last page reports no progress: the download is complete then.
        target = min(done, total) if in_snapshot else self._bar.length
        self._bar.update(max(0, target - self._bar.pos))

    def __enter__(self) -> DownloadProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


def _sync_summary(report: SyncReport) -> str:
    lines = [f"Pushed {report.pushed} change{'s' * (report.pushed != 1)}: "
             f"{report.applied} applied, {report.conflicts} with conflicts, "
             f"{report.rejected} rejected. Pulled {report.pulled} "
             f"record{'s' * (report.pulled != 1)}."]
    if report.reset:
        lines.append("The server's history had moved on: the replica was downloaded again.")
    if report.conflicts:
        lines.append("See `fieldsync-client conflicts` for how the conflicts were decided.")
    if report.conflicts_closed:
        lines.append(f"The back office settled {report.conflicts_closed} open "
                     f"conflict{'s' * (report.conflicts_closed != 1)}: see "
                     "`fieldsync-client conflicts`.")
    if report.rejected:
        lines.append("See `fieldsync-client rejected`: fix or discard the rejected changes.")
    return "\n".join(lines)


@cli.command()
@json_option
@click.pass_obj
def sync(config: CliContext) -> None:
    """Push local changes, then download everything new."""
    client = config.client()
    with DownloadProgress(enabled=not config.json) as progress:
        report = client.sync(progress=progress)
    config.emit(asdict(report), lambda: _sync_summary(report))


def _uploads_text(info: dict[str, Any]) -> str:
    uploads = info.get("uploads") or {}
    if not uploads.get("files"):
        return "none waiting"
    mb = 1024 * 1024
    text = (f"{uploads['files']} file(s), {uploads['sent'] / mb:.1f} of "
            f"{uploads['bytes'] / mb:.1f} MB sent")
    return text + (f"; {uploads['failed']} refused" if uploads["failed"] else "")


def _status_text(info: dict[str, Any]) -> str:
    user = info["user"]
    who = (f"{user['name']} <{user['email']}> ({user['role']}) on {info['device_name']!r}"
           if user else "nobody")
    signed_in = who if info["signed_in"] else f"no (last: {who})" if user else "no"
    rows = [("Signed in", signed_in),
            ("Server", info["server"] or "-"), ("Pending changes", info["pending"]),
            ("Rejected changes", info["rejected"]), ("Open conflicts", info["open_conflicts"]),
            ("Records", info["records"]), ("Last sync", info["last_sync_at"] or "never"),
            ("Last error", info["last_error"] or "-"), ("Uploads", _uploads_text(info)),
            ("Replica", info["replica"])]
    return "\n".join(f"{name + ':':<18}{value}" for name, value in rows)


@cli.command()
@json_option
@click.pass_obj
def status(config: CliContext) -> None:
    """Show what waits to sync, what was refused, and the last sync."""
    client = config.client()
    info = {"signed_in": client.signed_in, "user": client.user, "server": client.server_url,
            "device_name": client.store.meta("device_name"), **asdict(client.status()),
            "replica": str(config.data)}
    config.emit(info, lambda: _status_text(info))


# -- records ---------------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _where(conditions: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for condition in conditions:
        name, sep, value = condition.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{condition!r} is not FIELD=VALUE", param_hint="--where")
        pairs.append((name.strip(), value))
    return pairs


def _matches(record: dict[str, Any], name: str, value: str) -> bool:
    text = _as_text(record.get(name))
    if is_id_column(name) and value:
        return text.startswith(value.lower())  # tables show short ids
    return text == value or text.casefold() == value.casefold()


@cli.command("list")
@click.argument("entity", type=ENTITY)
@click.option("--where", "conditions", multiple=True, metavar="FIELD=VALUE",
              help="Only records whose field has this value (repeat to narrow).")
@json_option
@click.pass_obj
def list_records(config: CliContext, entity: str, conditions: tuple[str, ...]) -> None:
    """List records of ENTITY in the replica.

    ENTITY is an entity name: account, visit, order, order-line, work-order, van-stock...
    """
    where = _where(conditions)
    records = [r for r in config.client().query(entity)
               if all(_matches(r, name, value) for name, value in where)]
    config.emit(records, lambda: record_table(entity, records))


def _order_lines_text(client: SyncClient, lines: list[dict[str, Any]], total: str) -> str:
    rows = [{**line, "product": label(client, "product", line["product_id"])} for line in lines]
    return (table(rows, ("line_id", "product", "quantity", "discount_pct", "unit_price",
                         "line_total"))
            + f"\nTotal: {total}")


@cli.command()
@click.argument("entity", type=ENTITY)
@click.argument("record_id", metavar="ID")
@json_option
@click.pass_obj
def show(config: CliContext, entity: str, record_id: str) -> None:
    """Show one record with all its fields.

    An order is shown with its lines and total: the server's prices once synced.
    """
    client = config.client()
    found = resolve(client, entity, record_id)
    record = client.get(entity, found)
    if record is None:
        raise CliError(f"no {entity} {record_id!r} here; sync, or check the id")
    data: dict[str, Any] = {"id": found, **record}
    text = fields(data)
    if entity == "order":
        lines = [asdict(line) for line in config.field().order_lines(found)]
        data.update(lines=lines, total=order_total(line["line_total"] for line in lines))
        text += "\n\n" + _order_lines_text(client, lines, data["total"])
    config.emit(data, text)


# -- conflicts and rejections ----------------------------------------------------------------


@cli.command()
@click.option("--open", "only_open", is_flag=True, help="Only those left for the back office.")
@json_option
@click.pass_obj
def conflicts(config: CliContext, only_open: bool) -> None:
    """List how concurrent edits of your changes were decided."""
    items = config.client().conflicts(only_open=only_open)
    rows = [{"seq": c["seq"], "entity": c["entity"], "id": c["id"], **c["detail"],
             "status": conflict_status(c), "at": c["at"]} for c in items]
    config.emit(items, lambda: table(rows, ("seq", "entity", "id", "field", "kind", "server",
                                            "client", "result", "status", "at")))


def conflict_status(conflict: dict) -> str:
    """open (left for the back office), resolved (by its policy) or overridden (by the back
    office, learnt on a sync)."""
    return conflict["detail"].get("status") or ("open" if conflict["open"] else "resolved")


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def rejected(ctx: click.Context) -> None:
    """List changes the server refused.

    They stay here until fixed (a new change) or discarded.
    """
    if ctx.invoked_subcommand is not None:
        return
    config: CliContext = ctx.obj
    items = config.client().rejected()
    rows = [{**r, "message": r["message"] + "".join(
        f"; {name}: {' '.join(map(cell, messages))}"
        for name, messages in r["error_fields"].items())} for r in items]
    config.emit(items, lambda: table(rows, ("mutation_id", "entity", "id", "op", "code",
                                            "message")))


@rejected.command("discard")
@click.argument("mutation_id", type=int)
@json_option
@click.pass_obj
def discard(config: CliContext, mutation_id: int) -> None:
    """Forget a rejected change (the server never applied it)."""
    if not config.client().discard_rejected(mutation_id):
        raise CliError(f"no rejected change {mutation_id}; see `fieldsync-client rejected`")
    config.emit({"discarded": mutation_id}, f"Discarded rejected change {mutation_id}.")


for group in (*cli_field.GROUPS, pending):
    cli.add_command(group)


if __name__ == "__main__":  # pragma: no cover
    main()
