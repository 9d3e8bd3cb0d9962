"""``/api/v1/exercises`` and ``/api/v1/health``."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import text

from grader.store import accounts, catalog, submissions
from grader.web.api import api, api_user
from grader.web.api.schemas import ExerciseList, ExerciseOut, Health
from grader.web.context import db


@api.route("/exercises")
def list_exercises():  # noqa: ANN201
    """The exercises of your courses.
    ---
    get:
      summary: The exercises of your courses
      security: [{bearer: []}]
      responses:
        200: {description: The exercises, content: {application/json: {schema: ExerciseList}}}
        401: {$ref: "#/components/responses/Error"}
    """
    user = api_user()
    seen, out = set(), []
    for course in accounts.courses_of(db(), user):
        for row in catalog.course_exercises(db(), course.id):
            if row.slug in seen:
                continue
            seen.add(row.slug)
            out.append(ExerciseOut(
                slug=row.slug, title=row.title, summary=row.summary, points=row.points,
                url=url_for("student.exercise", slug=row.slug, _external=True),
                stub_py=url_for("student.stub", slug=row.slug, kind="py", _external=True),
                stub_ipynb=url_for("student.stub", slug=row.slug, kind="ipynb", _external=True)))
    return ExerciseList(exercises=out).model_dump(mode="json")


@api.route("/health")
def health():  # noqa: ANN201
    """Is the service up?
    ---
    get:
      summary: Is the service up?
      security: []
      responses:
        200: {description: Up, content: {application/json: {schema: Health}}}
        503: {description: The database cannot be reached, content: {application/json: {schema: Health}}}
    """
    try:
        db().execute(text("SELECT 1"))
        length = submissions.queue_length(db())
    except Exception:  # noqa: BLE001 - any database failure means "degraded"
        return Health(status="degraded", database=False).model_dump(mode="json"), 503
    return Health(status="ok", database=True, queue_length=length).model_dump(mode="json")
