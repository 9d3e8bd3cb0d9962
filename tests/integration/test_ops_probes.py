"""/healthz and /readyz: liveness never touches the database; readiness asks the database
and, with the Celery queue, the broker -- the real PostgreSQL, Redis and RabbitMQ here."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from grader.config import Config
from grader.web import create_app

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def unreachable_db_app(tmp_path, bank):  # noqa: ANN001, ANN201
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"
    config = Config(instance_path=tmp_path / "instance", database_url=url, testing=True, ratelimit_enabled=False)
    return create_app(config, bank=bank)


def test_healthz_answers_ok_without_a_database(unreachable_db_app):
    response = unreachable_db_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "broker": "not used"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_says_503_and_which_check_failed_when_the_database_is_down(unreachable_db_app):
    started = time.monotonic()
    response = unreachable_db_app.test_client().get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unreachable (")
    assert body["checks"]["broker"] == "not used"
    assert "127.0.0.1" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_readyz_says_503_when_the_celery_broker_is_down(app, scheme):
    url = f"{scheme}://guest:secret-pw@127.0.0.1:{closed_port()}/0"
    app.config["GRADER"] = app.config["GRADER"].replace(queue="celery", broker_url=url)
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.get_json()
    assert body == {"status": "unavailable",
                    "checks": {"database": "ok", "broker": body["checks"]["broker"]}}
    assert body["checks"]["broker"].startswith("unreachable (")
    assert "secret-pw" not in response.text


def test_readyz_says_503_when_celery_has_no_broker_url(app):
    app.config["GRADER"] = app.config["GRADER"].replace(queue="celery", broker_url="")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["broker"] == "not configured (set broker_url)"


@pytest.mark.parametrize("url", [REDIS_URL, AMQP_URL], ids=["redis", "rabbitmq"])
def test_readyz_is_ready_with_a_real_broker(app, url):
    port = urlsplit(url).port
    if not reachable("127.0.0.1", port):
        pytest.skip(f"no broker on 127.0.0.1:{port}")
    app.config["GRADER"] = app.config["GRADER"].replace(queue="celery", broker_url=url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.text
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_probes_need_no_login_no_csrf_and_keep_the_api_health(client):
    assert client.get("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405  # read-only, but answered, not a CSRF page
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
