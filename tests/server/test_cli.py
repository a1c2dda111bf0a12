"""The `fieldsync` command: users, demo data, schema, and the servers it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from server import create_app
from server.cli import cli
from server.config import settings_from_env
from server.demo import generate_demo
from server.extensions import db
from server.models import SYNC_TABLES, Account, Territory, User
from server.services.users import verify_credentials
from tests.conftest import TEST_CONFIG
from tests.databases import fresh_database
from tests.helpers import create_user, ensure_territories

PASSWORD = "a-long-enough-password"


def create_user_args(*extra: str) -> list[str]:
    return ["create-user", "--email", "Ann.Lee@Example.test", "--name", "Ann Lee",
            "--role", "rep", *extra]


def stored_user(app, email: str, password: str = PASSWORD):
    with app.app_context():
        user = verify_credentials(db.session, email, password,
                                  hash_method=app.config["PASSWORD_HASH_METHOD"])
        return user and (user.email, user.role.value, sorted(t.code for t in user.territories))


def add_territories(app, *codes: str) -> None:
    with app.app_context():
        ensure_territories(db.session, codes)
        db.session.commit()


def assert_refused(result, message: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_create_user_reads_the_password_from_stdin_and_takes_territories(app, runner):
    add_territories(app, "NORTH", "WEST", "EAST")

    result = runner.invoke(cli, create_user_args("--territory", "NORTH,WEST", "--territory",
                                                 "EAST", "--password-stdin"),
                           input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert "Created rep ann.lee@example.test (EAST, NORTH, WEST)" in result.output
    assert stored_user(app, "ann.lee@example.test") == (
        "ann.lee@example.test", "rep", ["EAST", "NORTH", "WEST"])


def test_create_user_prompts_for_the_password_twice(app, runner):
    result = runner.invoke(cli, create_user_args(), input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert stored_user(app, "ann.lee@example.test") == ("ann.lee@example.test", "rep", [])


def test_create_user_refuses_a_taken_email(app, runner):
    create_user(app, role="admin", email="ann.lee@example.test")

    result = runner.invoke(cli, create_user_args("--password-stdin"), input=PASSWORD)

    assert_refused(result, "already exists")


def test_create_user_names_the_unknown_territory(app, runner):
    add_territories(app, "NORTH")

    result = runner.invoke(cli, create_user_args("--territory", "NORTH,NOWHERE",
                                                 "--password-stdin"), input=PASSWORD)

    assert_refused(result, "Unknown code: NOWHERE")
    assert stored_user(app, "ann.lee@example.test") is None


def test_create_user_refuses_a_short_password(app, runner):
    result = runner.invoke(cli, create_user_args("--password-stdin"), input="short\n")

    assert_refused(result, "too short")


def test_create_user_lists_the_roles_when_the_role_is_unknown(runner):
    result = runner.invoke(cli, ["create-user", "--email", "a@example.test", "--name", "A",
                                 "--role", "boss", "--password-stdin"], input=PASSWORD)

    assert_refused(result, "'rep', 'technician', 'dispatcher', 'back_office'", exit_code=2)


def test_seed_demo_fills_an_empty_database_and_prints_the_logins(app, runner):
    result = runner.invoke(cli, ["seed-demo", "--accounts", "20", "--password", PASSWORD])

    assert result.exit_code == 0, result.output
    assert "20 account" in result.output and f"password: {PASSWORD}" in result.output
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.role == "admin"))
        assert admin.email in result.output
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 20
    assert stored_user(app, admin.email) is not None


def test_seed_demo_reports_a_record_the_engine_refuses_and_stores_nothing(app, runner,
                                                                          monkeypatch):
    def broken_company(**kwargs):
        company = generate_demo(**kwargs)
        company.records["work_order"][0]["status"] = "exploded"
        return company

    monkeypatch.setattr("server.cli.generate_demo", broken_company)
    result = runner.invoke(cli, ["seed-demo", "--accounts", "20"])

    assert_refused(result, "invalid work_order fields\n  status: ")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_seed_demo_refuses_a_database_that_has_users(app, runner):
    create_user(app, role="admin")

    result = runner.invoke(cli, ["seed-demo", "--accounts", "20"])

    assert_refused(result, "already has users")


@pytest.fixture
def empty_app(tmp_path_factory):
    """An app on a database of its own with no schema at all."""
    with fresh_database(tmp_path_factory) as url:
        app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url}, env={})
        yield app
        with app.app_context():
            db.engine.dispose()


def test_db_upgrade_builds_the_schema_on_an_empty_database(empty_app):
    runner = empty_app.test_cli_runner()
    assert_refused(runner.invoke(cli, ["seed-demo"]), "fieldsync db upgrade")

    upgraded = runner.invoke(cli, ["db", "upgrade"])
    checked = runner.invoke(cli, ["db", "check"])

    assert upgraded.exit_code == 0, upgraded.output
    assert checked.exit_code == 0, checked.output
    with empty_app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert {"alembic_version", "user", "account", "work_order", "sync_change"} <= tables


def test_commands_explain_a_missing_production_secret_without_a_traceback(monkeypatch):
    monkeypatch.setenv("FIELDSYNC_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)

    result = CliRunner().invoke(cli, ["db", "upgrade"])

    assert_refused(result, "SECRET_KEY must be set")
    assert "Usage:" not in result.output


@pytest.fixture
def served(monkeypatch):
    """Stands in for Werkzeug's server: records what it was asked to serve."""
    calls = []
    monkeypatch.setattr("werkzeug.serving.run_simple",
                        lambda host, port, app, **kw: calls.append((host, port, app)))
    return calls


def test_serve_runs_the_development_server_on_loopback_by_default(app, runner, served):
    result = runner.invoke(cli, ["serve"])

    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 5000, app)]
    assert "gunicorn -w \"$(nproc)\" --threads 4 'server:create_app()'" in result.output


def test_serve_takes_host_and_port(runner, served):
    runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8123"])

    assert [call[:2] for call in served] == [("0.0.0.0", 8123)]


class FakeScheduler:
    def __init__(self, app, background: bool):
        self.app, self.background, self.started = app, background, False

    def get_jobs(self) -> list:
        return []

    def start(self) -> None:
        self.started = True
        if not self.background:
            raise KeyboardInterrupt  # what Ctrl-C does to the blocking scheduler


@pytest.fixture
def schedulers(monkeypatch) -> list[FakeScheduler]:
    made = []

    def build(app, *, background):
        made.append(FakeScheduler(app, background))
        return made[-1]

    monkeypatch.setattr("server.cli.build_scheduler", build)
    return made


def test_scheduler_runs_the_jobs_in_the_foreground_until_stopped(app, runner, schedulers):
    result = runner.invoke(cli, ["scheduler"])

    assert result.exit_code == 0, result.output
    assert "scheduler stopped" in result.output
    assert [(s.app, s.background, s.started) for s in schedulers] == [(app, False, True)]


def test_serve_runs_the_jobs_in_the_background_only_when_enabled(app, runner, served,
                                                                 schedulers):
    runner.invoke(cli, ["serve"])
    assert schedulers == []

    app.config["SCHEDULER_ENABLED"] = True
    runner.invoke(cli, ["serve"])
    assert [(s.background, s.started) for s in schedulers] == [(True, True)]


@pytest.fixture
def environment_database(tmp_path_factory, monkeypatch):
    """A database named by DATABASE_URL, as a user of the installed command would have."""
    with fresh_database(tmp_path_factory) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("SECRET_KEY", TEST_CONFIG["SECRET_KEY"])
        monkeypatch.setenv("PASSWORD_HASH_METHOD", TEST_CONFIG["PASSWORD_HASH_METHOD"])
        yield url


def test_serve_runs_in_development_mode_when_no_mode_is_set(environment_database, monkeypatch,
                                                            served):
    # Set, then delete: monkeypatch then restores "unset" even though serve sets it.
    monkeypatch.setenv("FIELDSYNC_ENV", "unset")
    monkeypatch.delenv("FIELDSYNC_ENV")

    result = CliRunner().invoke(cli, ["serve"])

    assert result.exit_code == 0, result.output
    assert served[0][2].config["ENV"] == "development"
    dispose(served[0][2])


def test_demo_upgrades_seeds_once_and_serves(environment_database, monkeypatch, served):
    monkeypatch.setenv("FIELDSYNC_ENV", "development")

    first = CliRunner().invoke(cli, ["demo", "--accounts", "20", "--port", "5077"])
    second = CliRunner().invoke(cli, ["demo", "--accounts", "20"])

    assert first.exit_code == 0, first.output
    assert "Demo users (password: fieldsync-demo)" in first.output
    assert second.exit_code == 0, second.output
    assert "not seeding the demo again" in second.output
    assert [call[:2] for call in served] == [("127.0.0.1", 5077), ("127.0.0.1", 5000)]
    with served[1][2].app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 20
    for _, _, app in served:
        dispose(app)


def dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


def test_the_command_lists_its_commands_even_without_a_usable_configuration(monkeypatch):
    monkeypatch.setenv("FIELDSYNC_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)

    result = CliRunner().invoke(cli, ["--help"], obj=ScriptInfo(create_app=None))

    assert result.exit_code == 0
    for name in ("db", "create-user", "seed-demo", "serve", "demo"):
        assert f"  {name} " in result.output


def test_the_readme_documents_every_setting():
    class RecordingEnvironment(dict):
        def __init__(self):
            super().__init__()
            self.names: list[str] = []

        def get(self, name, default=None):
            self.names.append(name)
            return default

    environment = RecordingEnvironment()
    settings_from_env(environment, "/nonexistent/instance")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()

    assert environment.names
    assert [n for n in environment.names if f"| `{n}` |" not in readme] == []


def test_create_territory_bootstraps_an_installation_through_the_sync_engine(app, runner):
    result = runner.invoke(cli, ["create-territory", "--code", "CHI", "--name", "Chicago"])
    assert result.exit_code == 0, result.output
    assert "Created territory CHI (Chicago)" in result.output

    created = runner.invoke(cli, create_user_args("--territory", "CHI", "--password-stdin"),
                            input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    with app.app_context():
        r, c = SYNC_TABLES.record, SYNC_TABLES.change
        territory_id = db.session.scalar(sa.select(Territory.id).where(Territory.code == "CHI"))
        logged = db.session.scalar(sa.select(sa.func.count()).select_from(c).where(
            c.c.entity == "territory", c.c.record_id == territory_id))
        scope = db.session.scalar(sa.select(r.c.scope).where(r.c.record_id == territory_id))
    assert logged == 1  # in the change log: the reps' devices pull it
    assert scope == f"territory:{territory_id}"


def test_create_territory_refuses_a_taken_code(app, runner):
    runner.invoke(cli, ["create-territory", "--code", "CHI", "--name", "Chicago"])
    assert_refused(runner.invoke(cli, ["create-territory", "--code", "CHI", "--name", "Other"]),
                   "A territory with code CHI already exists")
    with app.app_context():
        names = db.session.scalars(sa.select(Territory.name).where(Territory.code == "CHI"))
        assert list(names) == ["Chicago"]


@pytest.mark.parametrize("mode", ["production", None])
def test_read_only_commands_run_without_a_production_secret(mode, tmp_path, monkeypatch):
    for name in ("FIELDSYNC_ENV", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    if mode:
        monkeypatch.setenv("FIELDSYNC_ENV", mode)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'inspect.sqlite'}")
    monkeypatch.setenv("LOG_FORMAT", "text")  # keep this process's logging as pytest set it

    routes = CliRunner().invoke(cli, ["routes"])
    writes = CliRunner().invoke(cli, ["db", "upgrade"])

    assert routes.exit_code == 0, routes.output
    assert "/api/v1/sync/push" in routes.output
    assert_refused(writes, "SECRET_KEY must be set")


def test_an_inspected_app_gets_a_throw_away_secret_not_the_development_one(tmp_path):
    app = create_app(env={"FIELDSYNC_ENV": "production"}, instance_path=str(tmp_path),
                     secret_required=False)

    assert len(app.config["SECRET_KEY"]) >= 32
    assert not (tmp_path / "dev-secret-key").exists()
    dispose(app)
