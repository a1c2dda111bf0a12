"""The server refuses to start in production with a missing or default secret."""

import gc

import pytest

from server import YOUNG_COLLECTION_THRESHOLD, create_app
from server.config import DEFAULT_SECRET, ConfigError

SQLITE = {"SQLALCHEMY_DATABASE_URI": "sqlite://"}


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET, "too-short"])
def test_production_refuses_a_missing_default_or_short_secret(secret):
    env = {"FIELDSYNC_ENV": "production", "DATABASE_URL": "sqlite://"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(env=env)


def test_production_starts_with_a_real_secret():
    app = create_app(env={"FIELDSYNC_ENV": "production", "DATABASE_URL": "sqlite://",
                          "SECRET_KEY": "s" * 48})
    assert app.config["SECRET_KEY"] == "s" * 48


def test_development_makes_and_keeps_a_secret_in_the_instance_folder(tmp_path):
    first, second = (create_app({"ENV": "development", **SQLITE}, env={},
                                instance_path=str(tmp_path)) for _ in range(2))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "dev-secret-key").exists()


def test_a_non_integer_setting_is_a_clear_configuration_error():
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_TTL_SECONDS"):
        create_app(env={"FIELDSYNC_ENV": "production", "SECRET_KEY": "s" * 48,
                        "ACCESS_TOKEN_TTL_SECONDS": "soon"})


def test_production_leaves_the_objects_built_at_start_up_out_of_garbage_collection(
        tmp_path):
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        create_app(SQLITE, env={"FIELDSYNC_ENV": "development"}, instance_path=str(tmp_path))
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds
        create_app(SQLITE, env={"FIELDSYNC_ENV": "production", "SECRET_KEY": "s" * 48})
        assert gc.get_freeze_count() > 10_000  # modules, the app, table metadata
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
