"""The `fieldsync` command: Flask's CLI built on create_app, plus fieldsync's own commands.

    fieldsync db upgrade          build or update the schema (Flask-Migrate's `db` group)
    fieldsync create-territory    add a territory (through the sync engine: devices get it)
    fieldsync create-user ...     add a user (password prompted, or read from stdin)
    fieldsync seed-demo           fill an empty database with a demo company
    fieldsync serve               the development server (production: gunicorn)
    fieldsync scheduler           the scheduled jobs (any number: each job runs once)
    fieldsync jobs list|run NAME  the jobs, their last runs; run one now
    fieldsync demo                upgrade + seed-demo if empty + serve: the quick start
"""

from __future__ import annotations

import contextlib
import os
import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, ScriptInfo, routes_command, shell_command
from flask_migrate import upgrade as upgrade_database
from flask_migrate.cli import db as migrate_group
from werkzeug import serving

from server import create_app
from server.config import ConfigError
from server.demo import DEFAULT_ACCOUNTS, DEFAULT_SEED, generate_demo, seed_demo
from server.extensions import db
from server.jobs import JOBS, build_scheduler, job_named
from server.models import Role, Territory, User
from server.scheduling import BUSY, SUCCEEDED, last_runs, run_job
from server.services.users import UserError, create_user
from sync.database import write_transaction
from sync.errors import MutationRejected, SyncError
from sync.ids import new_id
from sync.protocol import Op

DEMO_PASSWORD = "fieldsync-demo"


class ConfigProblem(NoAppException):
    """The configuration refused to build the app: show the reason, not a usage screen."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.ClickException.show(self, file)


# Commands that only read (the app's routes, the schema's revisions, the jobs): they sign
# nothing, so they run without a production SECRET_KEY.
READ_ONLY_COMMANDS = frozenset({
    ("routes",), ("jobs", "list"),
    ("db", "current"), ("db", "heads"), ("db", "history"), ("db", "show"), ("db", "branches"),
    ("db", "check"),
})


def load_app() -> Flask:
    """create_app() from the environment; a ConfigError becomes a one-line CLI error."""
    try:
        return create_app(secret_required=_invoked_command() not in READ_ONLY_COMMANDS)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from exc


def _invoked_command() -> tuple[str, ...]:
    """The names of the command being run below `fieldsync`, e.g. ("db", "current")."""
    names = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return tuple(reversed(names))


class FieldsyncGroup(FlaskGroup):
    """Flask's group, but `--help` stays quiet when the configuration is incomplete."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(click.Group.list_commands(self, ctx))
        # Without a usable configuration, the command that needs the app says what is wrong.
        with contextlib.suppress(NoAppException):
            names.update(ctx.ensure_object(ScriptInfo).load_app().cli.list_commands(ctx))
        return sorted(names)


@click.group(cls=FieldsyncGroup, create_app=load_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
@click.version_option(package_name="fieldsync", prog_name="fieldsync")
def cli() -> None:
    """fieldsync server administration: database, users, demo data, development server.

    Settings come from environment variables (see the README); DATABASE_URL defaults to a
    SQLite file in the instance folder.
    """


# The app is always create_app(), configured by the environment: Flask's --app and
# --env-file options would only mislead.
cli.params = [p for p in cli.params if p.name not in {"app", "env_file"}]
cli.add_command(migrate_group, "db")
cli.add_command(shell_command)
cli.add_command(routes_command)


def main(args: list[str] | None = None) -> None:
    """Entry point of the `fieldsync` console script."""
    try:
        cli.main(args=args, prog_name="fieldsync")
    except sa.exc.OperationalError as exc:
        # An unreachable or misnamed database is an operator problem, not a crash.
        click.secho(f"Error: cannot use the database: {exc.orig}", err=True, fg="red")
        sys.exit(1)


def _current_app() -> Flask:
    return click.get_current_context().ensure_object(ScriptInfo).load_app()


def _development_by_default() -> None:
    # Without FIELDSYNC_ENV the app is in production mode and demands a SECRET_KEY; the
    # development server and the demo run in development mode, which keeps a generated
    # secret in the instance folder.
    os.environ.setdefault("FIELDSYNC_ENV", "development")


def _database_label(app: Flask) -> str:
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return url.render_as_string(hide_password=True)


def _refusal(exc) -> click.ClickException:
    """A refusal with per-field messages (UserError, SyncError) as a readable CLI error."""
    details = "".join(f"\n  {field}: {_messages(value)}" for field, value in exc.fields.items())
    return click.ClickException(f"{exc.message}{details}")


def _messages(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@cli.command("create-user")
@click.option("--email", required=True, help="Login email (stored lower-cased).")
@click.option("--name", required=True, help="Full name shown to colleagues.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--territory", "territories", multiple=True, metavar="CODE",
              help="Territory code; repeat the option or separate codes with commas.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def create_user_command(email, name, role, territories, password_stdin):
    """Create an active user with a password and territories."""
    codes = [code.strip() for item in territories for code in item.split(",") if code.strip()]
    password = _read_password(password_stdin)
    try:
        user = create_user(db.session, email=email, name=name, role=role, password=password,
                           territory_codes=codes,
                           hash_method=current_app.config["PASSWORD_HASH_METHOD"])
        db.session.commit()
    except UserError as exc:
        db.session.rollback()
        raise _refusal(exc) from exc
    where = ", ".join(sorted(t.code for t in user.territories)) or "no territories"
    click.echo(f"Created {user.role.value} {user.email} ({where}), id {user.id}")


@cli.command("create-territory")
@click.option("--code", required=True, help="Unique short code, e.g. CHI; users are given "
              "territories by code.")
@click.option("--name", required=True, help="Name shown to users, e.g. Chicago.")
@click.option("--region", help="Optional region the territory belongs to.")
def create_territory_command(code, name, region):
    """Create a territory, the first step of a new installation (then create its users).

    It is written through the sync engine like any change, so it reaches every device in
    scope and is in the audit trail.
    """
    if db.session.scalar(sa.select(Territory.id).where(Territory.code == code)) is not None:
        raise click.ClickException(f"A territory with code {code} already exists.")
    db.session.rollback()  # the engine writes in a transaction of its own
    fields = {"code": code, "name": name, "region": region}
    try:
        with write_transaction(db.engine) as conn:
            result = current_app.extensions["fieldsync.sync"].write(
                conn, "territory", new_id(), Op.CREATE, fields, source="cli")
    except MutationRejected as exc:
        raise _refusal(exc) from exc
    click.echo(f"Created territory {code} ({name}), id {result.record_id}")


seed_option = click.option("--seed", default=DEFAULT_SEED, show_default=True,
                           help="Random seed of the demo company.")
accounts_option = click.option("--accounts", default=DEFAULT_ACCOUNTS, show_default=True,
                               type=click.IntRange(20, 100_000),
                               help="How many customer accounts to generate.")
host_option = click.option("--host", default="127.0.0.1", show_default=True,
                           help="Interface to bind.")
port_option = click.option("--port", default=5000, show_default=True,
                           type=click.IntRange(1, 65535))


@cli.command("seed-demo")
@seed_option
@accounts_option
@click.option("--password", default=DEMO_PASSWORD, show_default=True,
              help="Password of every demo user.")
def seed_demo_command(seed, accounts, password):
    """Fill an empty database with a demo company (users, customers, catalog, work)."""
    _seed(current_app, seed=seed, accounts=accounts, password=password)


def _seed(app: Flask, *, seed: int, accounts: int, password: str) -> None:
    if not _schema_exists():
        raise click.ClickException("The database has no schema yet: run `fieldsync db upgrade`.")
    if not _database_is_empty():
        raise click.ClickException("The database already has users; seed-demo fills an empty "
                                   "database only.")
    company = generate_demo(seed=seed, accounts=accounts)
    try:
        seed_demo(db.session, company, password=password,
                  hash_method=app.config["PASSWORD_HASH_METHOD"])
        db.session.commit()
    except (UserError, SyncError) as exc:
        db.session.rollback()
        raise _refusal(exc) from exc
    click.echo(company.summary())
    click.echo(f"\nDemo users (password: {password}):")
    for user in company.users:
        codes = ", ".join(user.territory_codes)
        click.echo(f"  {user.role:<12} {user.email:<38} {codes}")


def _schema_exists() -> bool:
    return sa.inspect(db.engine).has_table(User.__tablename__)


def _database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@cli.command("serve", with_appcontext=False)
@host_option
@port_option
def serve_command(host, port):
    """Run the development server (development mode unless FIELDSYNC_ENV says otherwise).

    For production run gunicorn instead, one worker per core:
    gunicorn -w "$(nproc)" --threads 4 'server:create_app()'
    """
    _development_by_default()
    _serve(_current_app(), host, port)


def _serve(app: Flask, host: str, port: int) -> None:
    click.echo(f"fieldsync {app.config['ENV']} server on http://{host}:{port}/api/v1/health")
    click.echo(f"database: {_database_label(app)}")
    click.echo("This is the development server; in production use gunicorn, one worker per "
               "core: gunicorn -w \"$(nproc)\" --threads 4 'server:create_app()'.")
    # With the reloader on, only the child process that serves runs the jobs.
    if app.config["SCHEDULER_ENABLED"] and (not app.debug or serving.is_running_from_reloader()):
        build_scheduler(app, background=True).start()
        click.echo("scheduled jobs: running in this process (SCHEDULER_ENABLED=1)")
    serving.run_simple(host, port, app, use_reloader=app.debug, use_debugger=app.debug,
                       threaded=True)


@cli.command("scheduler")
def scheduler_command():
    """Run the scheduled jobs (change-log retention, login-attempt purge) until stopped.

    Run one per host or several for redundancy: each job runs once per period whichever
    scheduler gets to it first (a database lock, and a record of each run).
    """
    scheduler = build_scheduler(current_app._get_current_object(), background=False)
    click.echo("fieldsync scheduler: " + ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        scheduler.start()
    except KeyboardInterrupt:
        click.echo("fieldsync scheduler stopped")


@cli.command("demo", with_appcontext=False)
@host_option
@port_option
@seed_option
@accounts_option
def demo_command(host, port, seed, accounts):
    """Upgrade the database, seed the demo company if it is empty, and serve it."""
    _development_by_default()
    app = _current_app()
    with app.app_context():
        upgrade_database()
        if _database_is_empty():
            _seed(app, seed=seed, accounts=accounts, password=DEMO_PASSWORD)
        else:
            click.echo("The database already has users: not seeding the demo again.")
    _serve(app, host, port)


@cli.group("jobs")
def jobs_group():
    """The scheduled jobs: list them with their last runs, or run one now."""


@jobs_group.command("list")
def jobs_list_command():
    """List the jobs, their schedules and their last recorded runs."""
    try:
        runs = last_runs(db.engine)
    except sa.exc.SQLAlchemyError:
        runs = {}  # no schema yet, or an old one: the schedules still answer the question
    for spec in JOBS:
        run = runs.get(spec.name)
        last = (f"last run {run.started_at:%Y-%m-%d %H:%M:%S} UTC on {run.host}: {run.outcome}"
                if run else "never run")
        click.echo(f"{spec.name:<22} {spec.schedule}; {last}")


@jobs_group.command("run")
@click.argument("name", type=click.Choice([spec.name for spec in JOBS]))
def jobs_run_command(name):
    """Run the job NAME now (waits for nobody: refuses if it is running elsewhere)."""
    outcome = run_job(current_app._get_current_object(), job_named(name), scheduled=False)
    if outcome == BUSY:
        raise click.ClickException(f"{name} is running in another scheduler; try later")
    if outcome != SUCCEEDED:
        raise click.ClickException(f"{name} failed; the error is in the log and in job_run")
    click.echo(f"{name}: {outcome}")
