"""The grade outbox on both back ends, with a real receiver on loopback that verifies every
signature: written with the grade, retried with the same webhook-id, 429/410/400/timeouts/
redirects, the allow-list, the horizon, replay."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import delete, func, select

from grader.lms import outbox
from grader.lms.outcome import Outcome
from grader.queue import claims
from grader.store.models import GradingRun, utcnow
from grader.store.models_lms import Delivery, DisabledDestination
from test_outbox_support import SUBJECT, make_world, receiver_at


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def config(service_config):  # noqa: ANN001, ANN201
    return service_config.replace(delivery_timeout_seconds=1.0)


@pytest.fixture
def world(db, httpserver):  # noqa: ANN001, ANN201
    return make_world(db, [httpserver.url_for("/hooks")])


def sender(config, db, clock, backoff=lambda n: 5.0 * 2 ** (n - 1), **kwargs):  # noqa: ANN001, ANN201
    return outbox.Outbox(config, db, "host:1:outbox", backoff=backoff, clock=clock, **kwargs)


# ----------------------------------------------------------------------------- written with the grade
def test_finishing_a_run_writes_its_delivery_in_the_same_transaction(db, world) -> None:  # noqa: ANN001
    delivery_id = world.graded("http://localhost/hooks/x")
    row = world.delivery(delivery_id)
    assert row.status == "pending" and row.attempts == 0
    assert row.message_id.startswith("msg_") and len(row.message_id) == 36


def test_a_rolled_back_finish_leaves_no_delivery(db, world) -> None:  # noqa: ANN001
    submission_id = world.submit("http://localhost/hooks/x")
    with db.unit_of_work() as session:
        session.add(GradingRun(submission_id=submission_id))
    with db.unit_of_work() as session:
        claim = claims.claim_next(session, "host:1:w", 30.0, 3)
    with pytest.raises(RuntimeError):
        with db.unit_of_work() as session:
            assert claims.finish_run(session, claim, {"score": 1.0, "max_score": 10.0, "checks": []}, "0" * 64, "t") is not None
            assert session.scalar(select(func.count()).select_from(Delivery)) == 1
            raise RuntimeError("the worker died before commit")
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.get(GradingRun, claim.run_id).status == "running"


def test_the_claim_reads_whether_the_grade_goes_back_anywhere_and_a_grade_that_does_not_writes_no_delivery(
        db, world) -> None:  # noqa: ANN001
    from grader.queue.worker import work_of
    from grader.store.models_lms import ReplyTarget

    answered = world.submit("http://localhost/hooks/x")
    silent = world.submit("http://localhost/hooks/y")
    with db.unit_of_work() as session:
        session.execute(delete(ReplyTarget).where(ReplyTarget.submission_id == silent))
        session.add_all([GradingRun(submission_id=answered), GradingRun(submission_id=silent)])
    for expected in (True, False):
        with db.unit_of_work() as session:
            claim = claims.claim_next(session, "host:1:w", 30.0, 3)
            work = work_of(session, claim)
        assert work.replies is expected and work.slug and work.data
        with db.unit_of_work() as session:
            finished = claims.finish_run(session, claim, {"score": 1.0, "max_score": 10.0, "checks": []},
                                         "0" * 64, "t", replies=work.replies)
        assert len(finished.pending_deliveries) == (1 if expected else 0)
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_finish_run_names_the_due_deliveries_it_wrote_and_not_a_disabled_one(db, world) -> None:  # noqa: ANN001
    """What a Celery worker publishes right after the commit, with no second read."""
    submission_id = world.submit("http://localhost/hooks/live")
    gone = world.submit("http://localhost/hooks/gone")
    with db.unit_of_work() as session:
        session.add(DisabledDestination(kind="callback", url="http://localhost/hooks/gone"))
        session.add_all([GradingRun(submission_id=submission_id), GradingRun(submission_id=gone)])
    finished = []
    for _ in range(2):
        with db.unit_of_work() as session:
            claim = claims.claim_next(session, "host:1:w", 30.0, 3)
        with db.unit_of_work() as session:
            finished.append(claims.finish_run(session, claim, {"score": 1.0, "max_score": 10.0, "checks": []},
                                              "0" * 64, "t"))
    with db.reading() as session:
        rows = {row.run_id: row for row in session.scalars(select(Delivery))}
    live, disabled = finished
    assert live.pending_deliveries == (rows[live.run_id].id,) and rows[live.run_id].status == "pending"
    assert disabled.pending_deliveries == () and rows[disabled.run_id].status == "disabled"


def test_a_regrade_is_a_new_delivery_with_a_new_message_id(db, world) -> None:  # noqa: ANN001
    submission_id = world.submit("http://localhost/hooks/x")
    world.grade(submission_id, 3.0)
    world.grade(submission_id, 9.0)
    with db.reading() as session:
        ids = session.scalars(select(Delivery.message_id)).all()
    assert len(ids) == 2 and len(set(ids)) == 2


# ----------------------------------------------------------------------------- retries
def test_callback_is_retried_until_delivered_with_the_same_webhook_id(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(500, {}), (500, {}), (200, {})])
    delivery_id = world.graded(url, score=7.5)
    clock = Clock()
    box = sender(config, db, clock)
    assert box.run_once() == 1
    assert box.run_once() == 0, "sent again before its backoff ran out"
    clock.advance(4.9)
    assert box.run_once() == 0
    clock.advance(0.2)
    assert box.run_once() == 1
    row = world.delivery(delivery_id)
    assert row.attempts == 2 and row.last_status == 500
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=10)
    clock.advance(10)
    assert box.run_once() == 1
    row = world.delivery(delivery_id)
    assert (row.status, row.attempts, row.last_status, row.last_error) == ("delivered", 3, 200, None)
    assert row.delivered_at == clock.now
    assert receiver.ids() == [row.message_id] * 3
    assert all(seen.verified for seen in receiver.seen), "a signature did not verify"
    event = receiver.seen[-1].payload
    assert event["type"] == "grade.completed"
    assert event["data"]["user"] == {"id": SUBJECT}
    assert (event["data"]["score"], event["data"]["max_score"], event["data"]["assignment"],
            event["data"]["course"]) == (7.5, 10.0, "none-grad-after-rebinding", "demo")
    assert event["data"]["checks"] == [{"name": "grad_is_none", "verdict": "passed", "points": 7.5,
                                        "max_points": 10.0}]
    assert receiver.seen[0].body == receiver.seen[2].body, "a retry changed the event"


def test_retry_after_is_honoured(db, world, config, httpserver) -> None:  # noqa: ANN001
    _receiver, url = receiver_at(httpserver, world.secret, [(429, {"Retry-After": "120"})])
    delivery_id = world.graded(url)
    clock = Clock()
    assert sender(config, db, clock, backoff=lambda n: 1.0).run_once() == 1
    row = world.delivery(delivery_id)
    assert (row.status, row.last_status) == ("pending", 429)
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=120)


def test_410_disables_the_destination_and_later_deliveries_to_it(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(410, {})])
    first, waiting = world.graded(url), world.graded(url)
    with db.unit_of_work() as session:  # not due yet: must be disabled without being sent
        session.get(Delivery, waiting).next_attempt_at = utcnow() + dt.timedelta(hours=1)
    assert sender(config, db, Clock()).run_once() == 1
    assert [world.delivery(i).status for i in (first, waiting)] == ["disabled", "disabled"]
    assert world.delivery(first).last_status == 410
    later = world.graded(url)
    assert world.delivery(later).status == "disabled"
    assert "disabled" in world.delivery(later).last_error
    assert sender(config, db, Clock()).run_once() == 0
    assert len(receiver.seen) == 1
    with db.reading() as session:
        assert session.scalars(select(DisabledDestination.url)).all() == [url]


def test_400_is_a_permanent_failure_shown_with_its_status(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(400, {})])
    delivery_id = world.graded(url)
    clock = Clock()
    box = sender(config, db, clock)
    box.run_once()
    clock.advance(7200)
    assert box.run_once() == 0
    row = world.delivery(delivery_id)
    assert (row.status, row.last_status, row.attempts) == ("failed", 400, 1)
    assert "HTTP 400" in row.last_error and len(receiver.seen) == 1


def test_a_hanging_receiver_times_out_and_is_retried(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [("hang", {}), (200, {})])
    delivery_id = world.graded(url)
    clock = Clock()
    box = sender(config.replace(delivery_timeout_seconds=0.5), db, clock, backoff=lambda n: 1.0)
    started = time.monotonic()
    try:
        assert box.run_once() == 1
        assert time.monotonic() - started < 5
        row = world.delivery(delivery_id)
        assert row.status == "pending" and "no answer within 0.5 s" in row.last_error
    finally:
        receiver.release.set()
    clock.advance(1)
    deadline = time.monotonic() + 10
    while world.delivery(delivery_id).status != "delivered" and time.monotonic() < deadline:
        box.run_once()
        clock.advance(1)
    assert world.delivery(delivery_id).status == "delivered"
    assert len(set(receiver.ids())) == 1


def test_redirects_are_not_followed(db, world, config, httpserver) -> None:  # noqa: ANN001
    elsewhere, target = receiver_at(httpserver, world.secret, [(200, {})], path="/elsewhere")
    _receiver, url = receiver_at(httpserver, world.secret, [(302, {"Location": target})])
    delivery_id = world.graded(url)
    sender(config, db, Clock()).run_once()
    row = world.delivery(delivery_id)
    assert (row.status, row.last_status) == ("failed", 302)
    assert elsewhere.seen == []


def test_a_callback_url_off_the_allow_list_is_never_requested(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(200, {})])
    delivery_id = world.graded(url)
    world.set_allow(["https://lms.example/hooks"])  # the source narrowed its list since
    sender(config, db, Clock()).run_once()
    row = world.delivery(delivery_id)
    assert row.status == "failed" and "allow-list" in row.last_error and row.last_status is None
    assert receiver.seen == [] and httpserver.log == []


def test_past_the_horizon_a_delivery_fails(db, world, config, httpserver) -> None:  # noqa: ANN001
    _receiver, url = receiver_at(httpserver, world.secret, [(503, {})])
    delivery_id = world.graded(url)
    clock = Clock()
    clock.now = world.delivery(delivery_id).created_at + dt.timedelta(minutes=59)
    sender(config.replace(delivery_horizon_hours=1.0), db, clock, backoff=lambda n: 120.0).run_once()
    row = world.delivery(delivery_id)
    assert row.status == "failed" and row.last_status == 503
    assert row.last_error.startswith("gave up after 1 attempts over 1 h")


def test_replay_sends_a_failed_delivery_again_with_the_same_message_id(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(400, {}), (200, {})])
    delivery_id = world.graded(url)
    box = sender(config, db, Clock())
    box.run_once()
    assert world.delivery(delivery_id).status == "failed"
    with db.unit_of_work() as session:
        outbox.replay(session, delivery_id, box.clock())  # on the sender's clock
    assert world.delivery(delivery_id).status == "pending"
    box.clock.advance(1)
    assert box.run_once() == 1
    row = world.delivery(delivery_id)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert receiver.ids() == [row.message_id] * 2


def test_replaying_a_disabled_delivery_enables_its_destination(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(410, {}), (200, {})])
    delivery_id = world.graded(url)
    sender(config, db, Clock()).run_once()
    with db.unit_of_work() as session:
        outbox.replay(session, delivery_id)
        with pytest.raises(outbox.ReplayError):
            outbox.replay(session, delivery_id)  # pending already
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(DisabledDestination)) == 0
    clock = Clock()
    clock.advance(1)
    sender(config, db, clock).run_once()
    assert world.delivery(delivery_id).status == "delivered"
    assert world.delivery(world.graded(url)).status == "pending"


# ----------------------------------------------------------------------------- leases, failures
def test_a_claimed_delivery_is_not_claimed_by_another_sender(db, world) -> None:  # noqa: ANN001
    delivery_id = world.graded("http://localhost/hooks/x")
    now = utcnow()
    with db.unit_of_work() as session:
        assert outbox.claim_due(session, "host:1:a", 60, now) == [delivery_id]
    with db.unit_of_work() as session:
        assert outbox.claim_due(session, "host:2:b", 60, now) == []
    with db.unit_of_work() as session:  # the lease ran out: taken over; the first loses its record
        assert outbox.claim_due(session, "host:2:b", 60, now + dt.timedelta(seconds=61)) == [delivery_id]
    with db.unit_of_work() as session:
        assert not outbox.record(session, delivery_id, "host:1:a", Outcome(delivered=True, status=200), now)
        assert outbox.record(session, delivery_id, "host:2:b", Outcome(delivered=True, status=200), now)
    assert world.delivery(delivery_id).status == "delivered"


def test_dead_local_senders_leases_are_freed(db, world) -> None:  # noqa: ANN001
    import socket

    delivery_id = world.graded("http://localhost/hooks/x")
    with db.unit_of_work() as session:
        outbox.claim_due(session, f"{socket.gethostname()}:999999999:x", 600)
    with db.unit_of_work() as session:
        assert outbox.expire_dead_local_leases(session) == 1
    with db.unit_of_work() as session:
        assert outbox.claim_due(session, "host:2:b", 60) == [delivery_id]


def test_a_sender_that_raises_is_a_retryable_error(db, world, config, monkeypatch) -> None:  # noqa: ANN001
    from grader.lms import callback

    def broken(*_args):  # noqa: ANN002, ANN202
        raise KeyError("boom")

    monkeypatch.setattr(callback, "send", broken)
    delivery_id = world.graded("http://localhost/hooks/x")
    sender(config, db, Clock()).run_once()
    row = world.delivery(delivery_id)
    assert (row.status, row.attempts) == ("pending", 1) and "KeyError" in row.last_error


def test_the_outbox_loop_delivers_and_stops(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(200, {})])
    delivery_id = world.graded(url)
    stop = threading.Event()
    loop = threading.Thread(target=outbox.Outbox(config.replace(poll_seconds=0.05), db).run_forever, args=(stop,))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while world.delivery(delivery_id).status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    assert world.delivery(delivery_id).status == "delivered" and len(receiver.seen) == 1


def test_a_replay_restarts_the_retry_horizon(db, world, config, httpserver) -> None:  # noqa: ANN001
    _receiver, url = receiver_at(httpserver, world.secret, [(503, {})])
    delivery_id = world.graded(url)
    clock = Clock()
    clock.now = world.delivery(delivery_id).created_at + dt.timedelta(hours=30)
    box = sender(config, db, clock, backoff=lambda n: 60.0)
    box.run_once()
    assert world.delivery(delivery_id).status == "failed"
    with db.unit_of_work() as session:
        outbox.replay(session, delivery_id, now=clock.now)
    box.run_once()
    row = world.delivery(delivery_id)
    assert (row.status, row.attempts) == ("pending", 2), "a replayed delivery gave up at its first failure"


def test_concurrent_senders_send_each_delivery_once(db, world, config, httpserver) -> None:  # noqa: ANN001
    receiver, url = receiver_at(httpserver, world.secret, [(200, {})])
    ids = [world.graded(url) for _ in range(12)]
    boxes = [outbox.Outbox(config, db, f"host:{n}:x", threads=2) for n in (1, 2, 3)]
    barrier = threading.Barrier(len(boxes))

    def drain(box: outbox.Outbox) -> None:
        barrier.wait()
        while box.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(world.delivery(i).status == "delivered" for i in ids)
    assert sorted(receiver.ids()) == sorted(world.delivery(i).message_id for i in ids)
