"""The PostgreSQL grade statement: its text must not depend on the check rows, or
SQLAlchemy's compiled cache misses on every grade (a few ms of CPU per submission)."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql

from grader.queue.claims import _graded_in_one_statement
from grader.store.models import GradingRun


def compiled(checks: list[tuple]) -> tuple[str, dict]:
    graded = update(GradingRun).where(GradingRun.id == 7).values(score=1.0).returning(GradingRun.id,
                                                                                       GradingRun.priority)
    done = _graded_in_one_statement(graded, checks, 1.0).compile(dialect=postgresql.psycopg.dialect())
    return str(done), done.params


def test_grade_statement_text_is_the_same_for_any_check_rows():
    one, _ = compiled([(0, "a", "passed", 1.0, 1.0, True, None)])
    three, params = compiled([(0, "a", "passed", 1.0, 1.0, True, "hint"), (1, "b", "failed", 0.0, 2.0, False, None),
                              (2, "c", "passed", 0.5, 0.5, True, None)])
    assert one == three
    assert "unnest" in three
    assert params["check_name"] == ["a", "b", "c"] and params["check_hint"] == ["hint", None, None]


def test_grade_statement_without_checks_inserts_no_rows():
    text, _ = compiled([])
    assert "check_results" not in text and "unnest" not in text
