"""The statements on the path of every grade (taking a run, storing its grade) are built once
per process with bind parameters: building a statement and its cache key anew cost about as
much CPU as the database round trip."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql

from grader.queue import claims
from grader.queue.worker import _taking_with_work


def compiled(statement) -> tuple[str, set[str]]:  # noqa: ANN001
    done = statement.compile(dialect=postgresql.psycopg.dialect())
    return str(done), set(done.params)


def test_the_grade_statement_is_built_once_and_takes_the_check_rows_as_array_parameters():
    assert claims._graded_in_one_statement(True) is claims._graded_in_one_statement(True)
    text, params = compiled(claims._graded_in_one_statement(True))
    assert "unnest" in text
    assert {f"check_{name}" for name in claims._CHECK_COLUMNS} <= params
    assert {"fin_run_id", "fin_owner", "fin_score", "fin_result"} <= params


def test_a_grade_without_checks_inserts_no_rows():
    text, params = compiled(claims._graded_in_one_statement(False))
    assert "check_results" not in text and "unnest" not in text
    assert not any(name.startswith("check_") for name in params)


def test_taking_a_run_is_one_prebuilt_statement_whatever_the_run():
    assert claims.taking() is claims.taking() and _taking_with_work() is _taking_with_work()
    _, params = compiled(_taking_with_work())
    assert set(claims.taking_params(7, "host:1:abc", 60, 3)) <= params
