"""Student pages: the exercise list, an exercise (statement, stub, submission form, attempts)
and a submission's feedback. A student only ever sees their own submissions; any other id
answers 404, exactly like one that does not exist."""

from __future__ import annotations

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import login_required

from grader.engine.bank import Bank, BankError
from grader.queue import publish
from grader.store import accounts, catalog, scores, submissions
from grader.store.models import Exercise
from grader.web import language
from grader.web.context import config, database, db, user_row
from grader.web.language import current_locale
from grader.web.extensions import limiter, submit_limit

bp = Blueprint("student", __name__)


def bank() -> Bank:
    return current_app.extensions["grader.bank"]


@bp.route("/")
@login_required
def index():  # noqa: ANN201
    user = user_row()
    courses = accounts.courses_of(db(), user)
    progress = scores.progress_by(scores.scored_submissions(db(), user_id=user.id), lambda r: r.exercise_id)
    listed = [(course, catalog.course_exercises(db(), course.id)) for course in courses]
    return render_template("exercises.html", listed=listed, progress=progress)


def _exercise_or_404(slug: str) -> Exercise:
    row = catalog.exercise_by_slug(db(), slug)
    user = user_row()
    if row is None or not any(catalog.in_course(db(), c.id, row) for c in accounts.courses_of(db(), user)):
        abort(404)
    return row


@bp.route("/exercises/<slug>")
@login_required
def exercise(slug: str):  # noqa: ANN201
    row = _exercise_or_404(slug)
    try:
        statement = bank().exercise(slug).statement_in(current_locale())
    except BankError:
        statement = _("The statement of this exercise is not available.")
    attempts = submissions.history(db(), user_row(), row.id)
    return render_template("exercise.html", exercise=row, statement=statement, attempts=attempts,
                           max_kib=config().max_upload_bytes // 1024)


@bp.route("/exercises/<slug>/stub.<any(py, ipynb):kind>")
@login_required
def stub(slug: str, kind: str):  # noqa: ANN201
    _exercise_or_404(slug)
    try:
        found = bank().exercise(slug)
    except BankError:
        abort(404)
    path = found.stub_path if kind == "py" else found.notebook_path
    mimetype = "text/x-python" if kind == "py" else "application/x-ipynb+json"
    return Response(path.read_bytes(), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{slug}.{kind}"'})


@bp.route("/exercises/<slug>/submit", methods=["POST"])
@login_required
@limiter.limit(submit_limit)
def submit(slug: str):  # noqa: ANN201
    row = _exercise_or_404(slug)
    upload = request.files.get("file")
    pasted = request.form.get("source", "")
    if upload is not None and upload.filename:
        filename, data = upload.filename, upload.read(config().max_upload_bytes + 1)
    elif pasted.strip():
        filename, data = "pasted.py", pasted.replace("\r\n", "\n").encode("utf-8")
    else:
        flash(_("Choose a .py or .ipynb file, or paste your code, then submit."), "error")
        return redirect(url_for(".exercise", slug=slug), 303)
    try:
        with database().unit_of_work() as session:
            accepted = submissions.submit(session, user_row(session), row.slug, filename, data,
                                          config().max_upload_bytes, origin="web")
            submission_id, run_id, position = accepted.submission.id, accepted.run.id, accepted.position
    except submissions.SubmissionRejected as exc:
        flash(language.text(exc.text), "error")
        return redirect(url_for(".exercise", slug=slug), 303)
    publish.for_app(current_app).publish_runs([run_id])  # after the commit: a worker must find the run
    if position > config().queue_limit:
        flash(_("Many submissions are waiting: grading is delayed. Yours is number %(n)d in the queue; "
                "it is saved and will be graded.", n=position), "warning")
    return redirect(url_for(".submission", submission_id=submission_id), 303)


@bp.route("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):  # noqa: ANN201
    user = user_row()
    found = submissions.get_for(db(), user, submission_id)
    if found is None or found.user_id != user.id:
        abort(404)  # instructors look at other people's work on the instructor pages
    latest = found.latest_run
    shown = submissions.shown_result(found)
    position = submissions.queue_position(db(), latest) if latest is not None else None
    attempts = submissions.history(db(), user, found.exercise_id)
    return render_template("submission.html", submission=found, latest=latest, shown=shown,
                           position=position, attempts=attempts, instructor_view=False)
