"""``compose.yaml``, the ``Dockerfile`` and ``deploy/`` describe one consistent topology.

Docker is not usable on every machine that runs the tests (not on this one), so these
tests read the files: the services the deployment guide names exist, the grader's
services run one image with the right commands, every ``GRADER_*`` variable is a setting
that ``grader/config.py`` knows and the whole environment loads as a Config, and the
ports, host names, volumes and health checks agree with each other.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml

from grader.config import Config

ROOT = Path(__file__).resolve().parents[2]
GRADER_SERVICES = ("migrate", "web", "worker")
KNOWN = {Config.ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Config) if f.name != "extra"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def command(service: dict) -> list[str]:
    value = service["command"]
    return shlex.split(value) if isinstance(value, str) else list(value)


def env_file_values(service: dict) -> dict[str, str]:
    """The variables of a service's env files, read from the committed ``.example`` files."""
    values: dict[str, str] = {}
    for entry in service.get("env_file", []):
        path = ROOT / (entry["path"] if isinstance(entry, dict) else entry)
        example = path.with_name(path.name + ".example")
        assert example.is_file(), f"{path.relative_to(ROOT)} has no committed {example.name}"
        for line in example.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                name, _, value = line.partition("=")
                values[name.strip()] = value.strip()
    return values


def interpolated(value: object) -> str:
    """``${NAME:-default}`` as compose resolves it with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def environment(service: dict) -> dict[str, str]:
    env = env_file_values(service)
    env.update({k: interpolated(v) for k, v in (service.get("environment") or {}).items()})
    return env


def test_the_topology_has_every_service_of_the_guide(services: dict) -> None:
    assert {"proxy", "web", "worker", "migrate", "postgres", "redis"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")


def test_the_grader_services_run_one_image_built_from_the_dockerfile(services: dict) -> None:
    images = {services[name]["image"] for name in GRADER_SERVICES}
    assert len(images) == 1
    for name in GRADER_SERVICES:
        context = services[name]["build"]
        context = context["context"] if isinstance(context, dict) else context
        assert (ROOT / context / "Dockerfile").is_file()


def test_the_commands_are_migrate_gunicorn_and_grader_worker(services: dict) -> None:
    assert command(services["migrate"]) == ["grader", "db", "upgrade"]
    web = command(services["web"])
    assert web[0] == "gunicorn" and web[-1] == "grader.web.wsgi:create()"
    module, _, factory = web[-1].partition(":")
    assert callable(getattr(importlib.import_module(module), factory.removesuffix("()")))
    assert "--workers" in web and "--threads" in web
    worker = command(services["worker"])
    assert worker[:2] == ["grader", "worker"] and int(worker[worker.index("--concurrency") + 1]) >= 1


def test_every_grader_variable_is_a_setting_and_the_environment_loads(services: dict) -> None:
    for name in GRADER_SERVICES:
        env = environment(services[name])
        unknown = sorted(k for k in env if k.startswith("GRADER_") and k not in KNOWN)
        assert not unknown, f"{name}: not settings of grader/config.py: {unknown}"
        others = sorted(k for k in env if not k.startswith("GRADER_"))
        assert not others, f"{name}: variables the grader does not read: {others}"
        config = Config.load(env)  # raises ConfigError on a value of the wrong kind
        assert config.queue == "celery" and config.log_format in ("text", "json")


def test_the_secrets_come_from_env_files_not_from_compose_yaml(services: dict) -> None:
    for name in GRADER_SERVICES:
        inline = services[name].get("environment") or {}
        assert "GRADER_SECRET_KEY" not in inline and "GRADER_DATABASE_URL" not in inline
        assert {"GRADER_SECRET_KEY", "GRADER_DATABASE_URL"} <= set(env_file_values(services[name]))
    assert "POSTGRES_PASSWORD" in env_file_values(services["postgres"])
    assert "POSTGRES_PASSWORD" not in (services["postgres"].get("environment") or {})
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "deploy/*.env" in ignored


def test_the_grader_reaches_the_compose_database_and_broker(services: dict) -> None:
    from sqlalchemy.engine import make_url

    postgres = environment(services["postgres"])
    for name in GRADER_SERVICES:
        config = Config.load(environment(services[name]))
        url = make_url(config.database_url)
        assert url.drivername == "postgresql+psycopg" and url.host == "postgres"
        assert url.username == postgres["POSTGRES_USER"] and url.database == postgres["POSTGRES_DB"]
        assert url.password == postgres["POSTGRES_PASSWORD"], "the two example env files disagree"
        broker = make_url(config.broker_url)
        assert broker.drivername == "redis" and broker.host == "redis" and (broker.port or 6379) == 6379
        assert config.ratelimit_storage_uri.startswith("redis://redis:"), "limits shared by every web process"


def test_the_web_trusts_the_proxy_and_the_proxy_forwards_to_gunicorns_port(services: dict) -> None:
    web = environment(services["web"])
    assert Config.load(web).trust_proxy and Config.load(web).base_url
    bind = command(services["web"])[command(services["web"]).index("--bind") + 1]
    port = bind.rsplit(":", 1)[1]
    caddy = next(v.split(":")[0] for v in services["proxy"]["volumes"] if "Caddyfile" in v)
    caddyfile = (ROOT / caddy).read_text()
    assert f"reverse_proxy web:{port}" in caddyfile
    assert "respond /metrics 404" in caddyfile, "metrics are scraped inside, never through the proxy"
    assert f"127.0.0.1:{port}/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_every_service_checks_its_health_and_starts_in_order(services: dict) -> None:
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "--ping" in services["worker"]["healthcheck"]["test"]
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_database_and_the_instance_folder_are_volumes(compose: dict, services: dict) -> None:
    declared = set(compose["volumes"])
    assert any(v.split(":")[1] == "/var/lib/postgresql/data" and v.split(":")[0] in declared
               for v in services["postgres"]["volumes"])
    for name in GRADER_SERVICES:
        instance = str(Config.load(environment(services[name])).instance_path)
        mounts = [v.split(":") for v in services[name]["volumes"]]
        assert any(source in declared and target == instance for source, target, *_ in mounts), name


def test_the_worker_is_unprivileged_but_can_build_its_sandbox(services: dict) -> None:
    worker = services["worker"]
    assert not worker.get("privileged", False)
    assert not worker.get("cap_add")
    assert "seccomp=unconfined" in worker["security_opt"]
    assert "/sys/fs/cgroup:/sys/fs/cgroup:rw" in worker["volumes"]
    assert worker["cgroup"] == "host"
    assert not services["web"].get("security_opt"), "only the worker runs student code"


def test_the_dockerfile_installs_the_cpu_torch_the_sandbox_library_and_the_bank() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert "libseccomp2" in text
    assert re.search(r"pip install torch==2\.13\.0 --index-url https://download\.pytorch\.org/whl/cpu", text)
    assert "'.[deploy]'" in text, "gunicorn comes with the deploy extra"
    for folder in ("grader", "migrations", "exercises", "solutions"):
        assert re.search(rf"^COPY {folder} \./{folder}$", text, re.M), folder
    workdir = re.search(r"^WORKDIR (\S+)$", text, re.M).group(1)
    assert f"GRADER_BANK={workdir}" in text, "the bank is where exercises/ was copied"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^deploy = \[\s*"gunicorn', pyproject, re.M)
