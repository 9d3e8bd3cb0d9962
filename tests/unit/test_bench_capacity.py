"""The capacity arithmetic of ``grader bench --service --celery`` (no services needed)."""

from __future__ import annotations

import pytest

from grader.queue.bench import bracketed_ratios
from grader.queue.bench_celery import capacity, deadline_plan, format_queue_table


def test_a_thousand_submission_burst_in_five_minutes_needs_the_rate_divided_into_two_hundred_a_minute():
    figures = capacity(45.0, {"workers": 2, "graded": 60, "per_minute": 80.0})
    assert figures["worker_processes_needed"] == 5  # 200/min at 45/min per worker: 4.4 -> 5
    assert figures["check_predicted_minutes"] == round(60 / 90, 2)
    assert figures["check_measured_minutes"] == 0.75
    assert figures["check_scaling_efficiency"] == round((60 / 90) / 0.75, 2)


def test_the_table_names_every_back_end_and_the_capacity_line():
    run = {"workers": 2, "per_minute": 80.0, "vs_baseline": 0.95, "latency_p50_s": 10.0, "latency_p95_s": 20.0,
           "commit_to_claim_p50_ms": 12.0, "graded": 60, "vs_baseline_rounds": [0.93, 0.95, 0.97],
           "backlog_vs_baseline": 1.04}
    figures = {"exercise": "x", "submissions": 60, "jobs": 2, "baseline_grade_jobs_per_minute": 84.0,
               "baseline_runs_per_minute": [80.0, 84.0, 90.0],
               "runs": [{"queue": "embedded", **run}, {"queue": "celery+redis", **run, "workers": 1,
                                                        "vs_baseline": None}],
               "capacity": capacity(45.0, run)}
    table = format_queue_table(figures)
    assert "embedded" in table and "celery+redis" in table and "0.95x" in table
    assert "needs 5 worker processes" in table
    assert "median of 3 runs, 80-90" in table and "0.93x 0.95x 0.97x" in table and "1.04x" in table


def test_each_burst_is_compared_with_the_baselines_just_before_and_after_it():
    # the machine slows down between the bursts: each burst keeps its own ratio
    assert bracketed_ratios([90.0, 60.0], [100.0, 100.0, 50.0]) == [0.9, 0.8]
    with pytest.raises(ValueError):
        bracketed_ratios([90.0], [100.0])


def test_the_deadline_is_simulated_whole_when_the_cores_suffice_and_as_its_share_when_not():
    assert deadline_plan(needed=1, cores=2) == (1, 1000)  # one worker takes the whole burst
    assert deadline_plan(needed=2, cores=2) == (2, 1000)
    assert deadline_plan(needed=5, cores=2) == (2, 400)  # two of five workers carry 2/5 of it
    assert deadline_plan(needed=3, cores=2) == (2, 667)


def test_the_table_says_whether_the_simulated_deadline_held():
    run = {"workers": 1, "per_minute": 80.0, "vs_baseline": None, "latency_p50_s": 10.0, "latency_p95_s": 20.0,
           "commit_to_claim_p50_ms": 12.0, "graded": 60}
    figures = {"exercise": "x", "submissions": 60, "jobs": 2, "baseline_grade_jobs_per_minute": 84.0,
               "runs": [{"queue": "celery+redis", **run}], "capacity": capacity(45.0, run),
               "deadline": {"workers": 2, "submissions": 400, "share_of_burst": 0.4, "graded": 400, "minutes": 4.6,
                            "per_minute": 87.0, "latency_p50_s": 140.0, "latency_p95_s": 260.0, "holds": True}}
    assert "400 submissions (40% of the burst) posted at once to 2 worker processes: 400 scored in 4.6 min" \
        in format_queue_table(figures) and "holds" in format_queue_table(figures)
    figures["deadline"].update(minutes=5.4, holds=False)
    assert "DOES NOT hold" in format_queue_table(figures)
