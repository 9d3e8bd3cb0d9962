"""With ``ratelimit_storage_uri=redis://...`` the submission limit is shared by every web
process (here: two apps on the same Redis), as it must be behind a load balancer."""

from __future__ import annotations

import uuid

import pytest
from service_fixtures import make_token

from grader.web import create_app

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_up() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS}: {exc}")


def test_submission_limit_is_shared_by_two_web_processes_through_redis(redis_up, service_config, db, demo, bank):
    config = service_config.replace(ratelimit_enabled=True, ratelimit_storage_uri=REDIS, submit_rate="2 per minute",
                                    extra={"RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    first, second = create_app(config, db, bank).test_client(), create_app(config, db, bank).test_client()
    headers = {"Authorization": f"Bearer {make_token(db, demo['student'].email)}"}
    body = {"exercise": "none-grad-after-rebinding", "filename": "fix.py", "source": "x = 1\n"}
    assert first.post("/api/v1/submissions", json=body, headers=headers).status_code == 202
    assert second.post("/api/v1/submissions", json=body, headers=headers).status_code == 202
    refused = first.post("/api/v1/submissions", json=body, headers=headers)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
