"""Instructor pages: the gradebook (and its CSV), a submission in full with its run and
regrade history, what the class gets wrong at each exercise, and the roster import.

An instructor only sees the courses they are enrolled in; any other course, submission or
exercise answers 404 exactly like one that does not exist, and so does every page for a
student. The views are thin: the numbers come from ``grader.store.gradebook``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re

from flask import (Blueprint, Response, abort, current_app, flash, make_response, redirect, render_template,
                   request, url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy.exc import DBAPIError

from grader.engine.source import SubmissionError, parse_submission
from grader.queue import publish
from grader.store import accounts, catalog, gradebook, regrades, submissions
from grader.store.models import Course, Exercise, Submission, User
from grader.web import charts, language
from grader.web.context import database, db, instructor_required

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
log = logging.getLogger("grader.web")

MAX_REASON = 500
MAX_NAME = 200  # users.display_name


# ----------------------------------------------------------------------------- helpers
def not_found(message: str) -> None:
    page = render_template("error.html", status=404, title=_("Not found"), message=message)
    abort(make_response(page, 404))


def course_asked_for(user: User) -> tuple[Course, list[Course]]:
    """The course asked for in ``?course=`` (default: the first one taught) and all taught."""
    courses = gradebook.taught_courses(db(), user)
    wanted = request.args.get("course", "").strip()
    if wanted:
        for course in courses:
            if course.id == wanted:
                return course, courses
        not_found(_("None of the courses you teach is called “%(course)s”.", course=wanted[:64]))
    if not courses:
        not_found(_("You do not teach any course yet. Ask an administrator to enrol you in one as an "
                     "instructor."))
    return courses[0], courses


def _exercise(course: Course, slug: str) -> Exercise:
    exercise = catalog.exercise_by_slug(db(), slug)
    if exercise is None or not catalog.in_course(db(), course.id, exercise):
        not_found(_("The course “%(course)s” has no exercise “%(slug)s”.", course=course.title,
                     slug="".join(ch for ch in slug[:100] if ch.isprintable())))
    return exercise


def _submission(session, user: User, submission_id: int) -> Submission:  # noqa: ANN001
    found = submissions.get_for(session, user, submission_id)
    if found is None or not submissions.can_teach(session, user, found.course_id):
        not_found(_("There is no submission %(id)d in the courses you teach.", id=submission_id))
    return found


def _reason() -> str:
    """The reason on one line, without control characters (PostgreSQL refuses a NUL)."""
    text = "".join(ch if ch.isprintable() else " " for ch in request.form.get("reason", ""))
    return " ".join(text.split())[:MAX_REASON]


def _flash_regrade(report: regrades.RegradeReport) -> None:
    if report.queued:
        flash(ngettext("%(num)d regrade queued.", "%(num)d regrades queued.", len(report.queued)), "success")
    if report.skipped:
        flash(ngettext("%(num)d submission skipped: a grading of it is already on its way.",
                       "%(num)d submissions skipped: a grading of each is already on its way.",
                       len(report.skipped)), "warning")
    if not report.queued and not report.skipped:
        flash(_("There was nothing to regrade."), "info")


# ----------------------------------------------------------------------------- gradebook
@bp.route("/gradebook", endpoint="gradebook")
@login_required
def show_gradebook():  # noqa: ANN201
    user = instructor_required()
    course, courses = course_asked_for(user)
    book = gradebook.build_gradebook(db(), course)
    columns = book.exercises
    only = request.args.get("exercise", "").strip()
    if only:
        columns = [exercise for exercise in book.exercises if exercise.slug == only]
        if not columns:
            not_found(_("The course “%(course)s” has no exercise “%(slug)s”.", course=course.title, slug=only[:100]))
    query = request.args.get("q", "").strip()[:200]
    sort = request.args.get("sort", "name")
    sort = sort if sort in book.sort_keys() else "name"
    descending = request.args.get("dir") == "desc"
    rows = gradebook.sort_students(gradebook.filter_students(book.students, query), sort, descending)
    return render_template("instructor/gradebook.html", course=course, courses=courses, book=book,
                           columns=columns, rows=rows, q=query, sort=sort, descending=descending, only=only)


@bp.route("/gradebook.csv", endpoint="gradebook_csv")
@login_required
def gradebook_csv():  # noqa: ANN201
    user = instructor_required()
    course, _courses = course_asked_for(user)
    text = gradebook.csv_text(gradebook.build_gradebook(db(), course))
    filename = "gradebook-" + re.sub(r"[^A-Za-z0-9_.-]", "_", course.id) + ".csv"
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                                        "Cache-Control": "no-store"})


# ----------------------------------------------------------------------------- submissions
def _source_views(submission: Submission) -> dict:
    """What the page shows of the file: the text, and for a notebook the Python the grader
    imports plus the notebook JSON pretty-printed. Nothing is executed."""
    views = {"text": submission.text, "python": None, "notebook": None, "notes": [], "problem": None}
    if submission.format != "ipynb":
        return views
    try:
        views["notebook"] = json.dumps(json.loads(submission.text), indent=1, ensure_ascii=False)
    except ValueError:
        views["notebook"] = submission.text
    try:
        parsed = parse_submission(submission.filename, submission.content)
        views["python"], views["notes"] = parsed.source, parsed.notes
    except SubmissionError as exc:
        views["problem"] = str(exc)
    return views


@bp.route("/submissions/<int:submission_id>", endpoint="submission")
@login_required
def submission_detail(submission_id: int):  # noqa: ANN201
    user = instructor_required()
    found = _submission(db(), user, submission_id)
    attempts = [s for s in submissions.history(db(), found.user, found.exercise_id) if s.course_id == found.course_id]
    return render_template("instructor/submission.html", submission=found, course=found.course,
                           courses=gradebook.taught_courses(db(), user), shown=submissions.shown_result(found),
                           latest=found.latest_run, source=_source_views(found), attempts=attempts,
                           regrade_history=regrades.history(db(), found.id), max_reason=MAX_REASON)


@bp.route("/submissions/<int:submission_id>/regrade", methods=["POST"], endpoint="regrade_submission")
@login_required
def regrade_submission(submission_id: int):  # noqa: ANN201
    user = instructor_required()
    reason = _reason()
    with database().unit_of_work() as session:
        me = session.get(User, user.id)
        found = _submission(session, me, submission_id)
        if not reason:
            flash(_("Say why you regrade: the reason is kept in the submission's history."), "error")
            return redirect(url_for(".submission", submission_id=submission_id), 303)
        report = regrades.request_regrade(session, [found], me, reason)
    publish.for_app(current_app).publish_runs(report.queued, regrade=True)  # after the commit
    _flash_regrade(report)
    return redirect(url_for(".submission", submission_id=submission_id), 303)


# ----------------------------------------------------------------------------- exercises
@bp.route("/exercises", endpoint="exercises")
@login_required
def exercise_list():  # noqa: ANN201
    user = instructor_required()
    course, courses = course_asked_for(user)
    summaries = gradebook.summarise_exercises(gradebook.build_gradebook(db(), course))
    return render_template("instructor/exercises.html", course=course, courses=courses, summaries=summaries)


@bp.route("/exercises/<slug>", endpoint="exercise")
@login_required
def exercise_analytics(slug: str):  # noqa: ANN201
    user = instructor_required()
    course, courses = course_asked_for(user)
    exercise = _exercise(course, slug)
    report = gradebook.exercise_report(db(), course.id, exercise)
    failing = [tally for tally in report.checks if tally.failed]
    check_chart = charts.bar_chart(
        [(tally.name, tally.failed) for tally in failing], max(report.graded, 1),
        title=_("Graded submissions failing each check, %(exercise)s", exercise=language.exercise_title(exercise)))
    hint_chart = charts.bar_chart(
        [(language.text(tally.hint), tally.submissions) for tally in report.hints], max(report.graded, 1),
        title=_("Hints shown most often, %(exercise)s", exercise=language.exercise_title(exercise)))
    return render_template("instructor/exercise.html", course=course, courses=courses, exercise=exercise,
                           report=report, check_chart=check_chart, hint_chart=hint_chart,
                           pending=gradebook.pending_runs(db(), course.id, exercise), max_reason=MAX_REASON)


@bp.route("/exercises/<slug>/regrade", methods=["POST"], endpoint="regrade_exercise")
@login_required
def regrade_exercise(slug: str):  # noqa: ANN201
    user = instructor_required()
    course, _courses = course_asked_for(user)
    exercise = _exercise(course, slug)
    back = url_for(".exercise", slug=exercise.slug, course=course.id)
    reason = _reason()
    if not reason:
        flash(_("Say why you regrade: the reason is kept in each submission's history."), "error")
        return redirect(back, 303)
    with database().unit_of_work() as session:
        chosen = regrades.select_submissions(session, exercise=exercise.slug, course=course.id)
        report = regrades.request_regrade(session, chosen, session.get(User, user.id), reason)
    publish.for_app(current_app).publish_runs(report.queued, regrade=True)  # after the commit
    _flash_regrade(report)
    return redirect(back, 303)


# ----------------------------------------------------------------------------- roster
def _uploaded_csv() -> tuple[str | None, str | None]:
    """The CSV text sent (file first, else the text area), or an error message."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None, _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
    else:
        text = request.form.get("csv", "")
    if "\x00" in text:
        return None, _("The file contains NUL bytes: is it really a CSV file?")
    if not text.strip():
        return None, _("The CSV is empty. Give one student per line: email,name.")
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if len(row) > 1 and len(row[1].strip()) > MAX_NAME:
                return None, _("Line %(n)d: the name is longer than %(max)d characters. Nothing was imported.",
                               n=number, max=MAX_NAME)
    except csv.Error as exc:
        return None, _("The CSV cannot be read: %(error)s", error=str(exc))
    return text, None


@bp.route("/roster", methods=["GET", "POST"], endpoint="roster")
@login_required
def roster():  # noqa: ANN201
    user = instructor_required()
    course, courses = course_asked_for(user)
    report, problem, pasted = None, None, ""
    if request.method == "POST":
        text, problem = _uploaded_csv()
        pasted = request.form.get("csv", "")[:20_000]
        if text is not None:
            try:
                with database().unit_of_work() as session:
                    report = accounts.import_roster(session, text, session.get(Course, course.id))
            except csv.Error as exc:
                report, problem = None, _("The CSV cannot be read: %(error)s", error=str(exc))
            except DBAPIError:
                log.exception("roster import into %s failed", course.id)
                report, problem = None, _("The roster could not be stored; nothing was imported. Check the "
                                          "lines for unusual values and try again.")
            if report is not None and not (report.created or report.enrolled or report.errors):
                report, problem = None, _("The CSV has no student lines, only a header.")
            if report is not None:
                pasted = ""
        db().rollback()  # end the request's read transaction: the list below must show the import
    members = gradebook.roster(db(), course.id)
    page = render_template("instructor/roster.html", course=course, courses=courses, report=report,
                           problem=problem, pasted=pasted, members=members)
    response = make_response(page, 422 if problem else 200)
    response.headers["Cache-Control"] = "no-store"  # the page may hold new passwords
    return response
