"""LTI Assignment and Grade Services: one delivery of the outbox becomes one score POST.

``send`` reads what it needs in a short session, closes it, and only then talks HTTP (a
platform that hangs must never hold a database transaction open). The score sent is not
simply the run's: it is the course's policy (best or latest, ``Course.score_policy``, ``grader lti score-policy``)
over all of the user's graded submissions to the exercise *at send time*, so a delivery that
is retried after a newer run was graded still leaves the platform with the right number.

Every score carries a millisecond timestamp that is strictly later than any earlier score
this tool stamped for the same line item and user: platforms silently drop a score whose
timestamp is not newer, so a clock set back (or two grades in one millisecond) would
otherwise lose a grade without any error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import threading
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import Config
from grader.lms import http
from grader.lms.lti.keys import ToolKeys
from grader.lms.lti.token import LINEITEM_SCOPE, SCORE_SCOPE, Platform, TokenCache, TokenError
from grader.lms.outcome import Outcome, of_answer
from grader.store import scores
from grader.store.db import Database
from grader.store.models import Course, GradingRun, Submission
from grader.store.models_lms import Delivery, LtiPlatform, ReplyTarget, TargetKind

log = logging.getLogger(__name__)

SCORE_CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
SCOPES = (SCORE_SCOPE, LINEITEM_SCOPE)
POLICIES = ("best", "latest")
ONE_MS = dt.timedelta(milliseconds=1)

Clock = Callable[[], dt.datetime]


class NotSendable(Exception):
    """The delivery cannot become a score (missing rows, wrong kind): permanent."""


@dataclass(frozen=True)
class ScoreJob:
    """Everything the HTTP part needs, read in one short session."""

    platform: Platform
    lineitem_url: str
    subject: str
    score_given: float
    score_maximum: float
    previous_timestamp: dt.datetime | None  # the latest already stamped for (line item, user)


# ----------------------------------------------------------------------------- the entry point
def send(database: Database, config: Config, delivery_id: int, tokens: TokenCache | None = None, *,
         clock: Clock | None = None, stamps: "Stamps | None" = None) -> Outcome:
    """Send the score of delivery ``delivery_id``. Never raises: every problem is an Outcome
    (retried, permanent, or disable) the outbox records on the delivery."""
    tokens = tokens or default_tokens()
    stamps = stamps or default_stamps()
    clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
    try:
        with database.reading() as session:
            lineitem_url, subject = destination(session, delivery_id)
        # Read the score and stamp it in one turn per (line item, user): a score read later
        # (so at least as new) is always stamped later, also when the outbox sends in threads.
        with stamps.turn(lineitem_url, subject):
            with database.reading() as session:
                job = read_job(session, delivery_id)
            timestamp = stamps.next(job.lineitem_url, job.subject, clock(), job.previous_timestamp)
    except NotSendable as exc:
        return Outcome(error=str(exc), permanent=True)
    except Exception as exc:  # noqa: BLE001 - a database hiccup: try again later
        log.exception("AGS delivery %s: reading it failed", delivery_id)
        return Outcome(error=f"could not read the delivery: {type(exc).__name__}: {exc}"[:500])
    try:
        return _post(job, timestamp, config, tokens)
    except Exception as exc:  # noqa: BLE001 - never raise into the outbox loop
        log.exception("AGS delivery %s: sending failed", delivery_id)
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500], sent_timestamp=format_timestamp(timestamp))


def _post(job: ScoreJob, timestamp: dt.datetime, config: Config, tokens: TokenCache) -> Outcome:
    stamp = format_timestamp(timestamp)
    body = score_body(job, stamp)
    url = scores_url(job.lineitem_url)
    timeout = config.delivery_timeout_seconds
    key = ToolKeys(config.instance_path).current
    for attempt in (1, 2):
        try:
            token = tokens.get(job.platform, SCOPES, key, timeout)
        except TokenError as exc:
            return Outcome(status=exc.status, error=exc.message, permanent=not exc.retryable, sent_timestamp=stamp)
        try:
            answer = http.post(url, json=body, timeout=timeout,
                               headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_CONTENT_TYPE})
        except http.HttpError as exc:
            return Outcome(error=f"the scores endpoint {url} did not answer: {exc}", sent_timestamp=stamp)
        if answer.status == 401 and attempt == 1:
            tokens.drop(job.platform.id, SCOPES, token)  # revoked or expired early: one fresh token
            continue
        break
    return dataclasses.replace(of_answer(answer.status, answer.headers, answer.body), sent_timestamp=stamp)


# ----------------------------------------------------------------------------- reading
def _target(session: Session, delivery_id: int) -> tuple[Delivery, ReplyTarget]:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotSendable(f"there is no delivery {delivery_id}")
    target = session.get(ReplyTarget, delivery.target_id)
    if target is None or target.kind != TargetKind.LTI_AGS.value:
        raise NotSendable(f"delivery {delivery_id} does not go to an LTI line item")
    if not target.subject:
        raise NotSendable(f"delivery {delivery_id} has no LTI user id (sub) to send the score for")
    return delivery, target


def destination(session: Session, delivery_id: int) -> tuple[str, str]:
    """(line item URL, user's ``sub``) of an AGS delivery."""
    _, target = _target(session, delivery_id)
    return target.url, target.subject


def read_job(session: Session, delivery_id: int) -> ScoreJob:
    delivery, target = _target(session, delivery_id)
    row = session.get(LtiPlatform, target.platform_id) if target.platform_id is not None else None
    if row is None:
        raise NotSendable(f"delivery {delivery_id}: its LTI platform registration was removed")
    run = session.get(GradingRun, delivery.run_id)
    submission = session.get(Submission, run.submission_id) if run is not None else None
    if submission is None:
        raise NotSendable(f"delivery {delivery_id}: its grading run or submission is gone")
    policy = score_policy(session, submission)
    rows = scores.scored_submissions(session, user_id=submission.user_id, exercise_id=submission.exercise_id)
    chosen = choose_score(rows, policy)
    if chosen is None:  # only the delivery's own run can say (it was graded: that is why we exist)
        if run.score is None or run.max_score is None:
            raise NotSendable(f"delivery {delivery_id}: its run has no score")
        chosen = (run.score, run.max_score)
    return ScoreJob(Platform(row.id, row.issuer, row.client_id, row.token_url), target.url, target.subject,
                    chosen[0], chosen[1], previous_timestamp(session, target.url, target.subject))


def score_policy(session: Session, submission: Submission) -> str:
    """The choice of the submission's course (``Course.score_policy``): "best" unless it says "latest"."""
    policy = session.scalar(select(Course.score_policy).where(Course.id == submission.course_id))
    return policy if policy in POLICIES else "best"


def choose_score(rows: list[scores.Scored], policy: str) -> tuple[float, float] | None:
    """(points, maximum) under ``policy``, folded exactly as the gradebook folds them
    (``scores.progress_by``: each submission counts with its newest graded run). The maximum
    is that of the submission the points come from."""
    progress = scores.progress_by(rows, lambda row: row.exercise_id)
    if not progress:
        return None
    (entry,) = progress.values()
    points = entry.latest if policy == "latest" else entry.best
    if points is None:
        return None
    graded = [row for row in rows if row.score is not None]
    source = graded[-1] if policy == "latest" else [row for row in graded if row.score == points][-1]
    return points, source.max_score if source.max_score is not None else entry.max_score


def previous_timestamp(session: Session, lineitem_url: str, subject: str) -> dt.datetime | None:
    stamped = session.scalars(
        select(Delivery.sent_timestamp).join(ReplyTarget, ReplyTarget.id == Delivery.target_id)
        .where(ReplyTarget.kind == TargetKind.LTI_AGS.value, ReplyTarget.url == lineitem_url,
               ReplyTarget.subject == subject, Delivery.sent_timestamp.is_not(None)))
    parsed = [parse_timestamp(value) for value in stamped]
    return max((value for value in parsed if value is not None), default=None)


# ----------------------------------------------------------------------------- the wire format
def scores_url(lineitem_url: str) -> str:
    """``<line item>/scores``, before any query string (Moodle's line items carry ``?type_id=``)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def score_body(job: ScoreJob, timestamp: str) -> dict:
    return {"userId": job.subject, "scoreGiven": _number(job.score_given),
            "scoreMaximum": _number(job.score_maximum), "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": timestamp}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def format_timestamp(moment: dt.datetime) -> str:
    """``2026-12-01T17:05:03.123+00:00``: milliseconds, and a colon in the offset."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def parse_timestamp(value: str | None) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def next_timestamp(now: dt.datetime, previous: dt.datetime | None) -> dt.datetime:
    """``now`` to the millisecond, but at least 1 ms after ``previous``."""
    now = now.astimezone(dt.timezone.utc)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if previous is None:
        return now
    previous = previous.astimezone(dt.timezone.utc)
    previous = previous.replace(microsecond=previous.microsecond // 1000 * 1000)
    return max(now, previous + ONE_MS)


class Stamps:
    """The last timestamp this process stamped per (line item, user).

    The database knows the timestamps the outbox stored; this covers the moment between our
    answer and the outbox storing it, when another thread may stamp the next score."""

    KEEP = dt.timedelta(minutes=10)  # far longer than between an answer and the outbox storing it
    PRUNE_ABOVE = 10_000
    STRIPES = 64  # turn locks, shared by hash: bounded memory, rarely contended

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], dt.datetime] = {}
        self._turns = [threading.Lock() for _ in range(self.STRIPES)]

    def turn(self, lineitem_url: str, subject: str) -> threading.Lock:
        """Held while reading a score and stamping it (see ``send``)."""
        return self._turns[hash((lineitem_url, subject)) % self.STRIPES]

    def next(self, lineitem_url: str, subject: str, now: dt.datetime, stored: dt.datetime | None) -> dt.datetime:
        with self._lock:
            known = self._last.get((lineitem_url, subject))
            previous = max((t for t in (known, stored) if t is not None), default=None)
            stamp = next_timestamp(now, previous)
            self._last[(lineitem_url, subject)] = stamp
            if len(self._last) > self.PRUNE_ABOVE:
                self._last = {k: v for k, v in self._last.items() if v > now - self.KEEP}
            return stamp


@functools.cache
def default_tokens() -> TokenCache:
    """The process's token cache, made on first use (pass your own to ``send`` to share one
    per outbox, or to isolate tests)."""
    return TokenCache()


@functools.cache
def default_stamps() -> Stamps:
    return Stamps()
