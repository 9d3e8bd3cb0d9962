"""``grader.lms.ags.send`` against a fake platform on loopback: real tool keys, real RS256
assertions verified against the tool's JWKS, real HTTP, real database (SQLite and PostgreSQL).

The outbox (another module) stores ``Outcome.sent_timestamp`` on the delivery; ``deliver``
below does exactly that, so the timestamp rule is tested across database reads."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from fake_ags import HANG, Reply, running

from grader.lms import ags
from grader.lms.lti.keys import ToolKeys
from grader.lms.lti.token import SCORE_SCOPE, TokenCache
from grader.lms.outcome import Outcome
from grader.store import accounts, catalog, submissions
from grader.store.models import Course, GradingRun, RunStatus, utcnow
from grader.store.models_lms import Delivery, LtiContext, LtiGradeLink, LtiPlatform, ReplyTarget, TargetKind

SLUG = "manual-sgd-step"
STUB = Path(__file__).resolve().parents[2] / "exercises" / SLUG / "stub.py"
SUB = "lti-user-42"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


@pytest.fixture
def config(service_config):  # noqa: ANN001, ANN201
    return service_config.replace(delivery_timeout_seconds=1.0)


@pytest.fixture
def platform(config, demo):  # noqa: ANN001, ANN201
    with running(config.instance_path) as fake:
        yield fake


@pytest.fixture
def registered(db, platform):  # noqa: ANN001, ANN201
    """The fake platform registered, with a context bound to the demo course."""
    with db.unit_of_work() as session:
        row = LtiPlatform(issuer="https://platform.example", client_id=platform.client_id,
                          deployment_ids=["d1"], auth_url=platform.server.url_for("/auth"),
                          token_url=platform.token_url, jwks_url=platform.server.url_for("/jwks"))
        session.add(row)
        session.flush()
        context = LtiContext(platform_id=row.id, context_id="ctx-1", course_id="demo")
        session.add(context)
        session.flush()
        return {"platform_id": row.id, "context_id": context.id}


def set_policy(db, registered, policy: str, email: str = "student@example.com") -> None:  # noqa: ANN001
    with db.unit_of_work() as session:
        session.get(Course, "demo").score_policy = policy
        user = accounts.user_by_email(session, email)
        session.add(LtiGradeLink(user_id=user.id, exercise_id=catalog.exercise_by_slug(session, SLUG).id,
                                 platform_id=registered["platform_id"], context_id=registered["context_id"],
                                 lineitem_url="unused", subject=SUB))


def graded_delivery(db, registered, lineitem_url: str, score: float, max_score: float = 10.0,  # noqa: ANN001
                    email: str = "student@example.com", subject: str = SUB) -> int:
    """A submission graded ``score``/``max_score`` with an lti_ags reply target, and its delivery."""
    with db.unit_of_work() as session:
        user = accounts.user_by_email(session, email)
        accepted = submissions.submit(session, user, SLUG, STUB.name, STUB.read_bytes(), 1 << 20, origin="lti")
        run = accepted.run
        run.status, run.score, run.max_score, run.finished_at = RunStatus.GRADED.value, score, max_score, utcnow()
        target = ReplyTarget(submission_id=accepted.submission.id, kind=TargetKind.LTI_AGS.value, url=lineitem_url,
                             platform_id=registered["platform_id"], subject=subject)
        session.add(target)
        session.flush()
        delivery = Delivery(run_id=run.id, target_id=target.id, message_id=f"msg_{uuid.uuid4().hex}")
        session.add(delivery)
        session.flush()
        return delivery.id


def deliver(db, config, delivery_id: int, tokens: TokenCache | None = None,  # noqa: ANN001
            **kwargs) -> Outcome:  # noqa: ANN003
    """``ags.send`` then what the outbox does with the answer: keep the sent timestamp."""
    outcome = ags.send(db, config, delivery_id, tokens or TokenCache(), stamps=kwargs.pop("stamps", ags.Stamps()),
                       **kwargs)
    with db.unit_of_work() as session:
        session.get(Delivery, delivery_id).sent_timestamp = outcome.sent_timestamp
    return outcome


# ----------------------------------------------------------------------------- the happy path
def test_score_arrives_as_absolute_points_with_millisecond_timestamp_and_verified_assertion(
        db, config, platform, registered):  # noqa: ANN001
    lineitem = platform.lineitem_url("7", query="type_id=3")
    delivery = graded_delivery(db, registered, lineitem, 7.5, 10.0)

    outcome = deliver(db, config, delivery)

    assert outcome.delivered and outcome.status == 200 and outcome.error is None
    (received,) = platform.scores
    assert received.lineitem == "7" and received.query == "type_id=3"  # /scores went before the query
    assert received.content_type == "application/vnd.ims.lis.v1.score+json"
    body = received.score
    assert {k: body[k] for k in ("userId", "scoreGiven", "scoreMaximum", "activityProgress", "gradingProgress")} == {
        "userId": SUB, "scoreGiven": 7.5, "scoreMaximum": 10, "activityProgress": "Completed",
        "gradingProgress": "FullyGraded"}
    assert TIMESTAMP.match(body["timestamp"]) and body["timestamp"] == outcome.sent_timestamp
    (token_request,) = platform.token_requests
    assert token_request.refused is None, token_request.refused
    claims = token_request.claims
    assert claims["aud"] == platform.token_url
    assert claims["iss"] == claims["sub"] == platform.client_id
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]
    assert token_request.header["kid"] == ToolKeys(config.instance_path).current().kid
    assert SCORE_SCOPE in token_request.form["scope"].split()


def test_assertion_signed_by_a_key_the_platform_does_not_know_is_refused_permanently(
        db, config, registered, demo, tmp_path):  # noqa: ANN001
    with running(tmp_path / "someone-else") as stranger:  # trusts other keys than ours
        with db.unit_of_work() as session:
            session.get(LtiPlatform, registered["platform_id"]).token_url = stranger.token_url
        delivery = graded_delivery(db, registered, stranger.lineitem_url("1"), 5.0)

        outcome = deliver(db, config, delivery)

    assert not outcome.delivered and outcome.permanent and outcome.status == 401
    assert "https://platform.example" in outcome.error and "invalid_client" in outcome.error
    assert "unknown kid" in outcome.error
    assert stranger.scores == []


# ----------------------------------------------------------------------------- tokens
def test_token_is_cached_two_sends_make_one_token_request(db, config, platform, registered):  # noqa: ANN001
    tokens = TokenCache()
    first = graded_delivery(db, registered, platform.lineitem_url("1"), 4.0)
    second = graded_delivery(db, registered, platform.lineitem_url("1"), 6.0)

    assert deliver(db, config, first, tokens).delivered
    assert deliver(db, config, second, tokens).delivered

    assert len(platform.token_requests) == 1
    assert [s.token for s in platform.scores] == ["tok-1", "tok-1"]


def test_401_from_scores_drops_the_token_and_retries_once_with_a_new_one(
        db, config, platform, registered):  # noqa: ANN001
    tokens = TokenCache()
    assert deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 4.0), tokens).delivered
    platform.revoke_tokens()

    outcome = deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 6.0), tokens)

    assert outcome.delivered
    assert len(platform.token_requests) == 2
    assert platform.score_attempts == 3  # ok, 401, retried ok
    assert [s.token for s in platform.scores] == ["tok-1", "tok-2"]


def test_401_again_after_a_fresh_token_is_permanent_and_not_retried_further(
        db, config, platform, registered):  # noqa: ANN001
    platform.score_script += [Reply(401, body={"error": "nope"}), Reply(401, body={"error": "nope"})]

    outcome = deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 4.0))

    assert outcome.permanent and outcome.status == 401 and not outcome.delivered
    assert len(platform.token_requests) == 2 and platform.score_attempts == 2


# ----------------------------------------------------------------------------- timestamps
def test_timestamps_strictly_increase_within_one_millisecond_and_with_the_clock_set_back(
        db, config, platform, registered):  # noqa: ANN001
    tokens, lineitem = TokenCache(), platform.lineitem_url("1")
    frozen = dt.datetime(2026, 12, 1, 17, 5, 3, 123456, tzinfo=dt.timezone.utc)
    moments = [frozen, frozen, frozen - dt.timedelta(hours=1)]
    stamps = []
    for score, moment in zip((3.0, 5.0, 9.0), moments):
        delivery = graded_delivery(db, registered, lineitem, score)
        # a fresh Stamps each time: only the database remembers (as after a restart)
        outcome = deliver(db, config, delivery, tokens, clock=lambda m=moment: m, stamps=ags.Stamps())
        assert outcome.delivered
        stamps.append(outcome.sent_timestamp)

    assert stamps == ["2026-12-01T17:05:03.123+00:00", "2026-12-01T17:05:03.124+00:00",
                      "2026-12-01T17:05:03.125+00:00"]
    assert len(platform.kept_scores()) == 3  # the platform dropped none


def test_one_process_stamps_later_even_before_the_outbox_stored_the_last_timestamp(
        db, config, platform, registered):  # noqa: ANN001
    tokens, stamps, lineitem = TokenCache(), ags.Stamps(), platform.lineitem_url("1")
    frozen = dt.datetime(2026, 12, 1, 17, 5, 3, 123000, tzinfo=dt.timezone.utc)
    first = graded_delivery(db, registered, lineitem, 3.0)
    second = graded_delivery(db, registered, lineitem, 5.0)

    a = ags.send(db, config, first, tokens, clock=lambda: frozen, stamps=stamps)  # not stored
    b = ags.send(db, config, second, tokens, clock=lambda: frozen, stamps=stamps)

    assert a.sent_timestamp < b.sent_timestamp
    assert len(platform.kept_scores()) == 2


def test_other_users_and_line_items_keep_their_own_timestamps(db, config, platform, registered):  # noqa: ANN001
    frozen = dt.datetime(2026, 12, 1, 17, 5, 3, 123000, tzinfo=dt.timezone.utc)
    one = graded_delivery(db, registered, platform.lineitem_url("1"), 3.0)
    other_item = graded_delivery(db, registered, platform.lineitem_url("2"), 3.0)
    other_user = graded_delivery(db, registered, platform.lineitem_url("1"), 3.0, subject="someone-else")

    stamps = {deliver(db, config, d, clock=lambda: frozen).sent_timestamp for d in (one, other_item, other_user)}

    assert stamps == {"2026-12-01T17:05:03.123+00:00"}


# ----------------------------------------------------------------------------- which score
@pytest.mark.parametrize(("policy", "expected"), [("best", 8.0), ("latest", 3.0), (None, 8.0)])
def test_a_worse_later_run_sends_the_best_under_best_and_the_latest_under_latest(
        db, config, platform, registered, policy, expected):  # noqa: ANN001
    if policy is not None:  # None: no grade link, so the default (best)
        set_policy(db, registered, policy)
    tokens, lineitem = TokenCache(), platform.lineitem_url("1")
    deliver(db, config, graded_delivery(db, registered, lineitem, 8.0), tokens)

    outcome = deliver(db, config, graded_delivery(db, registered, lineitem, 3.0), tokens)

    assert outcome.delivered
    assert [s.score["scoreGiven"] for s in platform.scores] == [8, expected]
    assert platform.scores[-1].score["scoreMaximum"] == 10


def test_a_retried_old_delivery_sends_the_current_best_not_its_own_run(
        db, config, platform, registered):  # noqa: ANN001
    lineitem = platform.lineitem_url("1")
    old = graded_delivery(db, registered, lineitem, 2.0)
    graded_delivery(db, registered, lineitem, 9.0)  # graded since; its own delivery not sent yet

    assert deliver(db, config, old).delivered
    assert platform.scores[-1].score["scoreGiven"] == 9


# ----------------------------------------------------------------------------- failures
@pytest.mark.parametrize(("reply", "expect"), [
    (Reply(500, body="boom"), {"permanent": False, "disable": False, "retry_after": None}),
    (Reply(503, {"Retry-After": "7"}), {"permanent": False, "disable": False, "retry_after": 7.0}),
    (Reply(429, {"Retry-After": "12"}), {"permanent": False, "disable": False, "retry_after": 12.0}),
    (Reply(410), {"permanent": True, "disable": True}),
    (Reply(400, body={"error": "bad score"}), {"permanent": True, "disable": False}),
    (Reply(404), {"permanent": True, "disable": False}),
])
def test_scores_endpoint_failures_are_classified(db, config, platform, registered, reply, expect):  # noqa: ANN001
    platform.score_script.append(reply)

    outcome = deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 4.0))

    assert not outcome.delivered and outcome.status == reply.status
    assert {k: getattr(outcome, k) for k in expect} == expect
    assert f"HTTP {reply.status}" in outcome.error
    assert TIMESTAMP.match(outcome.sent_timestamp)


def test_token_endpoint_400_is_permanent_with_an_error_naming_the_platform_and_its_words(
        db, config, platform, registered):  # noqa: ANN001
    platform.token_script.append(Reply(400, body={"error": "invalid_client", "error_description": "unknown client"}))

    outcome = deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 4.0))

    assert outcome.permanent and not outcome.delivered and outcome.status == 400
    assert "https://platform.example" in outcome.error and platform.client_id in outcome.error
    assert "invalid_client (unknown client)" in outcome.error
    assert platform.score_attempts == 0


@pytest.mark.parametrize("reply", [Reply(503), Reply(500, body="down")])
def test_token_endpoint_5xx_is_retried_later(db, config, platform, registered, reply):  # noqa: ANN001
    platform.token_script.append(reply)

    outcome = deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 4.0))

    assert not outcome.permanent and not outcome.delivered and "HTTP 5" in outcome.error


def test_a_token_that_failed_is_fetched_again_on_the_next_send(db, config, platform, registered):  # noqa: ANN001
    tokens = TokenCache()
    platform.token_script.append(Reply(503))
    delivery = graded_delivery(db, registered, platform.lineitem_url("1"), 4.0)
    assert not deliver(db, config, delivery, tokens).delivered

    assert deliver(db, config, delivery, tokens).delivered
    assert len(platform.scores) == 1


def test_a_hanging_scores_endpoint_times_out_within_the_configured_timeout_without_holding_the_database(
        db, config, platform, registered):  # noqa: ANN001
    platform.score_script.append(HANG)
    delivery = graded_delivery(db, registered, platform.lineitem_url("1"), 4.0)
    result: list[Outcome] = []
    started = time.monotonic()
    sender = threading.Thread(target=lambda: result.append(ags.send(db, config, delivery, TokenCache(),
                                                                    stamps=ags.Stamps())))
    sender.start()
    deadline = time.monotonic() + 5
    while platform.score_attempts == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with db.unit_of_work() as session:  # the sender holds no transaction: this write goes through
        session.get(Delivery, delivery).last_error = "written while the send hangs"
    sender.join(10)
    elapsed = time.monotonic() - started

    (outcome,) = result
    assert not outcome.delivered and not outcome.permanent and outcome.status is None
    assert "did not answer" in outcome.error and "1 s" in outcome.error
    assert elapsed < config.delivery_timeout_seconds + 2.0


def test_a_hanging_token_endpoint_is_retried_later(db, config, platform, registered):  # noqa: ANN001
    platform.token_script.append(HANG)
    started = time.monotonic()

    outcome = deliver(db, config, graded_delivery(db, registered, platform.lineitem_url("1"), 4.0))

    assert not outcome.permanent and "did not answer" in outcome.error
    assert time.monotonic() - started < config.delivery_timeout_seconds + 2.0


def test_a_closed_port_is_retried_later(db, config, platform, registered):  # noqa: ANN001
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/lineitems/1/lineitem"
    outcome = deliver(db, config, graded_delivery(db, registered, closed, 4.0))

    assert not outcome.delivered and not outcome.permanent and "did not answer" in outcome.error


# ----------------------------------------------------------------------------- not sendable
def test_an_unknown_delivery_or_a_callback_target_is_a_permanent_outcome_not_an_exception(
        db, config, platform, registered):  # noqa: ANN001
    assert ags.send(db, config, 999_999).permanent
    delivery = graded_delivery(db, registered, platform.lineitem_url("1"), 4.0)
    with db.unit_of_work() as session:
        session.get(ReplyTarget, session.get(Delivery, delivery).target_id).kind = TargetKind.CALLBACK.value

    outcome = ags.send(db, config, delivery, TokenCache())

    assert outcome.permanent and "LTI line item" in outcome.error
    assert platform.token_requests == [] and platform.scores == []


def test_a_run_without_score_rows_falls_back_to_nothing_sendable(db, config, platform, registered):  # noqa: ANN001
    delivery = graded_delivery(db, registered, platform.lineitem_url("1"), 4.0)
    with db.unit_of_work() as session:
        run = session.get(GradingRun, session.get(Delivery, delivery).run_id)
        run.status, run.score, run.max_score = RunStatus.FAILED.value, None, None

    outcome = ags.send(db, config, delivery, TokenCache())

    assert outcome.permanent and "no score" in outcome.error


# ----------------------------------------------------------------------------- through the outbox
def test_the_outbox_sends_an_ags_delivery_and_keeps_its_timestamp_for_the_next(
        db, config, platform, registered):  # noqa: ANN001
    from grader.lms.outbox import Outbox

    lineitem = platform.lineitem_url("1")
    first = graded_delivery(db, registered, lineitem, 4.0)
    outbox = Outbox(config, db)
    assert outbox.run_once() == 1
    second = graded_delivery(db, registered, lineitem, 6.0)
    assert outbox.run_once() == 1

    with db.reading() as session:
        rows = [session.get(Delivery, d) for d in (first, second)]
    assert [row.status for row in rows] == ["delivered", "delivered"]
    assert [row.sent_timestamp for row in rows] == [s.score["timestamp"] for s in platform.scores]
    assert rows[0].sent_timestamp < rows[1].sent_timestamp
    assert [s.score["scoreGiven"] for s in platform.kept_scores()] == [4, 6]


def test_parallel_sends_to_one_line_item_and_user_get_distinct_timestamps(
        db, config, platform, registered):  # noqa: ANN001
    tokens, stamps, lineitem = TokenCache(), ags.Stamps(), platform.lineitem_url("1")
    frozen = dt.datetime(2026, 12, 1, 17, 5, 3, 123000, tzinfo=dt.timezone.utc)
    deliveries = [graded_delivery(db, registered, lineitem, float(n)) for n in range(4)]
    outcomes: list[Outcome] = []
    threads = [threading.Thread(target=lambda d=d: outcomes.append(
        ags.send(db, config, d, tokens, clock=lambda: frozen, stamps=stamps))) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert all(o.delivered for o in outcomes) and len(outcomes) == 4
    assert len({o.sent_timestamp for o in outcomes}) == 4
    assert len(platform.token_requests) == 1
    assert max(s.score["timestamp"] for s in platform.kept_scores()) == max(o.sent_timestamp for o in outcomes)
