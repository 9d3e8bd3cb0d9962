"""The signed grade.completed callback itself: who signs it, what it carries, what it refuses."""

from __future__ import annotations

import datetime as dt
import time

from standardwebhooks.webhooks import Webhook

from grader.lms import callback
from grader.store.models import utcnow
from grader.store.models_lms import WebhookSecret
from test_outbox_support import make_world, new_secret, receiver_at


def test_the_newest_valid_secret_signs_and_the_timestamp_is_the_attempts(db, httpserver, service_config) -> None:  # noqa: ANN001
    world = make_world(db, [httpserver.url_for("/hooks")])
    newer = new_secret()
    with db.unit_of_work() as session:  # a newer secret that has expired already does not sign
        session.add(WebhookSecret(source_id=world.source_id, secret=newer, expires_at=utcnow() - dt.timedelta(seconds=1)))
    receiver, url = receiver_at(httpserver, world.secret, [(200, {})])
    delivery_id = world.graded(url)
    outcome = callback.send(db, service_config, delivery_id)
    assert outcome.delivered and outcome.status == 200
    seen = receiver.seen[0]
    assert seen.verified
    assert seen.headers["Webhook-Id"] == world.delivery(delivery_id).message_id
    assert abs(int(seen.headers["Webhook-Timestamp"]) - time.time()) < 30
    assert seen.headers["Content-Type"] == "application/json"
    try:
        Webhook(newer).verify(seen.body, seen.headers)
        raise AssertionError("the expired secret signed")
    except Exception as exc:  # noqa: BLE001
        assert "signature" in str(exc).lower()


def test_a_source_without_a_valid_secret_sends_nothing(db, httpserver, service_config) -> None:  # noqa: ANN001
    world = make_world(db, [httpserver.url_for("/hooks")])
    with db.unit_of_work() as session:
        for row in session.query(WebhookSecret).all():
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
    receiver, url = receiver_at(httpserver, world.secret, [(200, {})])
    outcome = callback.send(db, service_config, world.graded(url))
    assert outcome.permanent and "no valid secret" in outcome.error
    assert receiver.seen == []


def test_a_refused_connection_is_retried(db, service_config) -> None:  # noqa: ANN001
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    world = make_world(db, [f"http://127.0.0.1:{port}/"])
    outcome = callback.send(db, service_config, world.graded(f"http://127.0.0.1:{port}/hook"))
    assert not outcome.delivered and not outcome.permanent and outcome.status is None
    assert "ConnectionError" in outcome.error
