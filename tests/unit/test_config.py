"""Config: defaults < instance/config.toml < GRADER_* environment < CLI overrides."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from grader.config import Config, ConfigError


def write_toml(instance: Path, text: str) -> Path:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.toml").write_text(text, encoding="utf-8")
    return instance


def test_defaults_apply_without_a_file_or_environment(tmp_path):
    config = Config.load({}, instance_path=tmp_path / "instance")
    assert config.instance_path == tmp_path / "instance"
    assert config.database_url == "" and config.bank is None
    assert config.max_upload_bytes == 1 << 20
    assert config.queue_limit == 200 and config.max_attempts == 3
    assert config.lease_seconds == 30.0 and config.poll_seconds == 0.25
    assert config.ratelimit_enabled is True and config.secure_cookies is False
    assert config.default_course == "demo" and config.testing is False
    assert config.extra == {}


def test_default_database_is_sqlite_inside_the_instance_folder(tmp_path):
    config = Config.load({}, instance_path=tmp_path / "instance")
    assert config.is_sqlite
    assert config.sqlalchemy_url == f"sqlite:///{(tmp_path / 'instance' / 'grader.db').resolve()}"


def test_instance_path_comes_from_the_environment_when_not_given(tmp_path):
    instance = write_toml(tmp_path / "elsewhere", "queue_limit = 7\n")
    config = Config.load({"GRADER_INSTANCE_PATH": str(instance)})
    assert config.instance_path == instance and config.queue_limit == 7


def test_config_toml_overrides_the_defaults(tmp_path):
    instance = write_toml(tmp_path / "instance", 'queue_limit = 50\nlease_seconds = 12.5\n'
                          'secure_cookies = true\ndefault_course = "ml101"\n'
                          '[extra]\nSESSION_COOKIE_NAME = "g"\n')
    config = Config.load({}, instance_path=instance)
    assert config.queue_limit == 50 and config.lease_seconds == 12.5
    assert config.secure_cookies is True and config.default_course == "ml101"
    assert config.extra == {"SESSION_COOKIE_NAME": "g"}


def test_environment_overrides_the_toml_file(tmp_path):
    instance = write_toml(tmp_path / "instance", "queue_limit = 50\nmax_attempts = 5\n")
    config = Config.load({"GRADER_QUEUE_LIMIT": "60"}, instance_path=instance)
    assert config.queue_limit == 60
    assert config.max_attempts == 5


def test_cli_overrides_beat_the_environment_and_none_means_not_given(tmp_path):
    instance = write_toml(tmp_path / "instance", "queue_limit = 50\n")
    config = Config.load({"GRADER_QUEUE_LIMIT": "60", "GRADER_WORKERS": "3"}, instance_path=instance,
                         queue_limit=70, workers=None)
    assert config.queue_limit == 70
    assert config.workers == 3


def test_environment_strings_are_coerced_to_the_settings_types(tmp_path):
    env = {"GRADER_MAX_ATTEMPTS": "4", "GRADER_LEASE_SECONDS": "2.5", "GRADER_RATELIMIT_ENABLED": "false",
           "GRADER_SECURE_COOKIES": "YES", "GRADER_UNSAFE_SANDBOX": "0", "GRADER_TESTING": "on",
           "GRADER_BANK": str(tmp_path / "bank"), "GRADER_DATABASE_URL": "postgresql+psycopg://db/x"}
    config = Config.load(env, instance_path=tmp_path / "instance")
    assert config.max_attempts == 4 and isinstance(config.max_attempts, int)
    assert config.lease_seconds == 2.5 and isinstance(config.lease_seconds, float)
    assert config.ratelimit_enabled is False and config.secure_cookies is True
    assert config.unsafe_sandbox is False and config.testing is True
    assert config.bank == tmp_path / "bank"
    assert config.database_url == "postgresql+psycopg://db/x" and not config.is_sqlite


def test_an_integer_in_toml_is_accepted_for_a_float_setting(tmp_path):
    instance = write_toml(tmp_path / "instance", "poll_seconds = 1\n")
    config = Config.load({}, instance_path=instance)
    assert config.poll_seconds == 1.0 and isinstance(config.poll_seconds, float)


def test_an_unknown_setting_in_toml_is_named_in_the_error(tmp_path):
    instance = write_toml(tmp_path / "instance", "queue_limt = 5\n")
    with pytest.raises(ConfigError, match="queue_limt"):
        Config.load({}, instance_path=instance)


def test_an_unknown_cli_override_is_named_in_the_error(tmp_path):
    with pytest.raises(ConfigError, match="no_such_setting"):
        Config.load({}, instance_path=tmp_path / "instance", no_such_setting=1)


def test_unrelated_environment_variables_are_ignored(tmp_path):
    config = Config.load({"GRADER_NO_SUCH_THING": "1", "PATH": "/bin"}, instance_path=tmp_path / "i")
    assert config == Config.load({}, instance_path=tmp_path / "i")


@pytest.mark.parametrize("name, value", [
    ("GRADER_MAX_ATTEMPTS", "three"),
    ("GRADER_LEASE_SECONDS", "soon"),
    ("GRADER_WORKERS", "1.5"),
    ("GRADER_SECURE_COOKIES", "maybe"),
])
def test_a_bad_environment_value_is_a_config_error_naming_the_setting(tmp_path, name, value):
    setting = name.removeprefix("GRADER_").lower()
    with pytest.raises(ConfigError, match=setting):
        Config.load({name: value}, instance_path=tmp_path / "instance")


@pytest.mark.parametrize("line, setting", [
    ('max_attempts = "many"', "max_attempts"),
    ("max_upload_bytes = 1.5", "max_upload_bytes"),
    ("database_url = 5", "database_url"),
    ('ratelimit_enabled = "perhaps"', "ratelimit_enabled"),
    ('extra = "not a table"', "extra"),
])
def test_a_bad_toml_value_is_a_config_error_naming_the_setting(tmp_path, line, setting):
    instance = write_toml(tmp_path / "instance", line + "\n")
    with pytest.raises(ConfigError, match=setting):
        Config.load({}, instance_path=instance)


def test_malformed_toml_is_a_config_error_naming_the_file(tmp_path):
    instance = write_toml(tmp_path / "instance", "queue_limit = = 3\n")
    with pytest.raises(ConfigError, match="config.toml"):
        Config.load({}, instance_path=instance)


def test_ensure_instance_generates_a_private_secret_key_once(tmp_path):
    config = Config.load({}, instance_path=tmp_path / "instance")
    assert config.secret_key == ""
    first = config.ensure_instance()
    key_file = tmp_path / "instance" / "secret_key"
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (tmp_path / "instance" / "logs").is_dir()

    again = Config.load({}, instance_path=tmp_path / "instance").ensure_instance()
    assert again.secret_key == first.secret_key
    assert first.ensure_instance() is first


def test_a_configured_secret_key_is_used_and_no_key_file_is_written(tmp_path):
    config = Config.load({"GRADER_SECRET_KEY": "s3cret"}, instance_path=tmp_path / "instance").ensure_instance()
    assert config.secret_key == "s3cret"
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_config_is_immutable_and_replace_returns_a_copy(tmp_path):
    config = Config.load({}, instance_path=tmp_path / "instance")
    with pytest.raises(AttributeError):
        config.queue_limit = 1  # type: ignore[misc]
    changed = config.replace(queue_limit=1)
    assert changed.queue_limit == 1 and config.queue_limit == 200


def test_worker_count_zero_means_one_per_core(tmp_path):
    config = Config.load({}, instance_path=tmp_path / "instance")
    assert config.worker_count >= 1
    assert config.replace(workers=3).worker_count == 3


def test_instances_started_at_the_same_moment_share_one_secret_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    config = Config.load({}, instance_path=tmp_path / "instance")
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: config.ensure_instance().secret_key, range(16)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert sorted(p.name for p in (tmp_path / "instance").iterdir()) == ["logs", "secret_key"]
