"""Prometheus metrics read from the database at scrape time.

Grading happens in many processes on many machines, and the database is where all of it
ends up: counting in process memory would give each process its own partial story. So
:class:`DatabaseCollector` runs a handful of ``GROUP BY`` queries per scrape and reports
what they say. Runs, check rows and deliveries are never deleted, so counts over them only
grow and are exposed as counters, and the latency histograms are cumulative bucket counts
over every graded run (a valid Prometheus histogram: ``rate()`` over it works).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Float, case, cast, extract, func, select
from sqlalchemy.orm import Session

from grader.engine.results import Verdict
from grader.store.models import CheckRow, Exercise, GradingRun, RunStatus, Submission, utcnow
from grader.store.models_lms import Delivery, DeliveryStatus, ReplyTarget, TargetKind

if TYPE_CHECKING:
    from grader.store.db import Database

# Grading takes tens of milliseconds to a minute (the exercise's time limits cap it).
GRADING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# Submit to score adds the wait in the queue: seconds when idle, many minutes at a deadline.
SUBMIT_TO_SCORE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# Verdicts that mean the sandbox stopped the student's code, not that the answer was wrong.
SANDBOX_FAILURES = (Verdict.TIMEOUT.value, Verdict.MEMORY.value, Verdict.CRASHED.value, Verdict.INVALID_REPLY.value)


def _runs_by_exercise():  # noqa: ANN202
    return (select(Exercise.slug).select_from(GradingRun)
            .join(Submission, Submission.id == GradingRun.submission_id)
            .join(Exercise, Exercise.id == Submission.exercise_id))


def _histogram_rows(session: Session, value, buckets: Sequence[float]) -> list:  # noqa: ANN001
    """Per exercise: count, sum and one cumulative count per bucket, in one query."""
    columns = [func.count(), func.coalesce(func.sum(value), 0.0)]
    columns += [func.sum(case((value <= bound, 1), else_=0)) for bound in buckets]
    query = (_runs_by_exercise().add_columns(*columns)
             .where(GradingRun.status == RunStatus.GRADED.value, value.is_not(None))
             .group_by(Exercise.slug).order_by(Exercise.slug))
    return list(session.execute(query))


def _latency(session: Session):  # noqa: ANN202
    """finished_at - queued_at in seconds, in the dialect's own date arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(GradingRun.finished_at) - func.julianday(GradingRun.queued_at)) * 86400.0
    return cast(extract("epoch", GradingRun.finished_at - GradingRun.queued_at), Float)


def _histogram(name: str, doc: str, rows: list, buckets: Sequence[float]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["exercise"])
    for slug, count, total, *cumulative in rows:
        points = [(_le(bound), float(n or 0)) for bound, n in zip(buckets, cumulative)]
        family.add_metric([slug], points + [("+Inf", float(count))], sum_value=float(total or 0.0))
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


def queue_metrics(session: Session) -> Iterator[Metric]:
    length = GaugeMetricFamily("grader_queue_length", "Runs waiting to be graded.", labels=["priority", "reason"])
    oldest = GaugeMetricFamily("grader_queue_oldest_age_seconds",
                               "How long the oldest queued run has waited (0 when the queue is empty).")
    rows = session.execute(select(GradingRun.priority, GradingRun.reason, func.count(), func.min(GradingRun.queued_at))
                           .where(GradingRun.status == RunStatus.QUEUED.value)
                           .group_by(GradingRun.priority, GradingRun.reason))
    first = None
    for priority, reason, count, queued_at in rows:
        length.add_metric([str(priority), reason], count)
        first = queued_at if first is None or (queued_at and queued_at < first) else first
    oldest.add_metric([], max(0.0, (utcnow() - first).total_seconds()) if first else 0.0)
    yield length
    yield oldest
    status = GaugeMetricFamily("grader_runs", "Grading runs by status.", labels=["status"])
    counts = {s.value: 0 for s in RunStatus}
    counts.update(dict(session.execute(select(GradingRun.status, func.count()).group_by(GradingRun.status)).all()))
    for name, count in sorted(counts.items()):
        status.add_metric([name], count)
    yield status


def latency_metrics(session: Session) -> Iterator[Metric]:
    yield _histogram("grader_grading_seconds", "Time the sandbox spent grading a run, by exercise.",
                     _histogram_rows(session, GradingRun.grading_seconds, GRADING_BUCKETS), GRADING_BUCKETS)
    yield _histogram("grader_submit_to_score_seconds",
                     "From queueing a run to its stored grade (queue wait + grading), by exercise.",
                     _histogram_rows(session, _latency(session), SUBMIT_TO_SCORE_BUCKETS), SUBMIT_TO_SCORE_BUCKETS)


def verdict_metrics(session: Session) -> Iterator[Metric]:
    verdicts = CounterMetricFamily("grader_check_verdicts", "Check results by exercise, check and verdict.",
                                   labels=["exercise", "check", "verdict"])
    failures = CounterMetricFamily("grader_sandbox_failures",
                                   "Checks the sandbox stopped (timeout, memory, crashed, invalid-reply).",
                                   labels=["exercise", "verdict"])
    rows = session.execute(_runs_by_exercise().add_columns(CheckRow.name, CheckRow.verdict, func.count())
                           .join(CheckRow, CheckRow.run_id == GradingRun.id)
                           .group_by(Exercise.slug, CheckRow.name, CheckRow.verdict))
    stopped: dict[tuple[str, str], int] = {}
    for slug, check, verdict, count in rows:
        verdicts.add_metric([slug, check, verdict], count)
        if verdict in SANDBOX_FAILURES:
            stopped[(slug, verdict)] = stopped.get((slug, verdict), 0) + count
    for (slug, verdict), count in sorted(stopped.items()):
        failures.add_metric([slug, verdict], count)
    yield verdicts
    yield failures


def delivery_metrics(session: Session) -> Iterator[Metric]:
    by_status = GaugeMetricFamily("grader_deliveries", "Grade deliveries to platforms by kind and status.",
                                  labels=["kind", "status"])
    failed = GaugeMetricFamily("grader_delivery_failures",
                               "Deliveries given up on (failed or disabled): what instructors are shown.",
                               labels=["kind"])
    attempts = CounterMetricFamily("grader_delivery_attempts", "HTTP attempts made to deliver grades, by kind.",
                                   labels=["kind"])
    counts = {(k.value, s.value): [0, 0] for k in TargetKind for s in DeliveryStatus}
    rows = session.execute(select(ReplyTarget.kind, Delivery.status, func.count(),
                                  func.coalesce(func.sum(Delivery.attempts), 0))
                           .join(ReplyTarget, ReplyTarget.id == Delivery.target_id)
                           .group_by(ReplyTarget.kind, Delivery.status))
    for kind, status, count, tries in rows:
        counts[(kind, status)] = [count, tries]
    kinds = sorted({kind for kind, _ in counts})
    for (kind, status), (count, _) in sorted(counts.items()):
        by_status.add_metric([kind, status], count)
    gave_up = (DeliveryStatus.FAILED.value, DeliveryStatus.DISABLED.value)
    for kind in kinds:
        failed.add_metric([kind], sum(counts[(kind, s)][0] for s in gave_up if (kind, s) in counts))
        attempts.add_metric([kind], sum(v[1] for (k, _), v in counts.items() if k == kind))
    yield by_status
    yield failed
    yield attempts


SECTIONS = (queue_metrics, latency_metrics, verdict_metrics, delivery_metrics)


def collect_all(session: Session) -> list[Metric]:
    """Every metric, from one reading session (a consistent enough picture for a scrape)."""
    return [metric for section in SECTIONS for metric in section(session)]


class DatabaseCollector(Collector):
    """Reads the numbers from the database at each scrape; nothing is counted in memory."""

    def __init__(self, database: "Database"):
        self.database = database

    def collect(self) -> Iterable[Metric]:
        with self.database.reading() as session:
            return collect_all(session)

    def describe(self) -> Iterable[Metric]:
        return []  # no scrape at registration time


def registry_for(database: "Database") -> CollectorRegistry:
    """A registry of its own per app (none of prometheus_client's process-wide globals): two
    apps in one process (the tests) never see each other's numbers."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(database))
    return registry
