"""The instructor's delivery log: every grade on its way to a platform, and replaying one.

An instructor sees the deliveries of the courses they teach only; a delivery of any other
course answers 404 like one that does not exist, and so does the page for a student."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from grader.lms import outbox
from grader.store import gradebook
from grader.web.context import database, db, instructor_required
from grader.web.instructor import course_asked_for, not_found

bp = Blueprint("deliveries", __name__, url_prefix="/instructor/deliveries")

STATUS_ORDER = {"failed": 0, "disabled": 1, "pending": 2, "delivered": 3}
PAGE_LIMIT = 500


@bp.route("", endpoint="index")
@login_required
def index():  # noqa: ANN201
    user = instructor_required()
    course, courses = course_asked_for(user)
    failed_only = request.args.get("status") == "failed"
    rows = outbox.list_deliveries(db(), failed_only=failed_only, course_id=course.id, limit=PAGE_LIMIT)
    rows.sort(key=lambda d: STATUS_ORDER.get(d.status, 9))  # stable: newest first within a status
    counts = {status: sum(1 for d in rows if d.status == status) for status in STATUS_ORDER}
    return render_template("instructor/deliveries.html", course=course, courses=courses, rows=rows,
                           failed_only=failed_only, counts=counts)


@bp.route("/<int:delivery_id>/replay", methods=["POST"], endpoint="replay")
@login_required
def replay(delivery_id: int):  # noqa: ANN201
    user = instructor_required()
    taught = {course.id for course in gradebook.taught_courses(db(), user)}
    course_id = outbox.course_of(db(), delivery_id)
    if course_id not in taught:
        not_found(_("There is no delivery %(id)d in the courses you teach.", id=delivery_id))
    try:
        with database().unit_of_work() as session:
            outbox.replay(session, delivery_id)
        flash(_("Delivery %(id)d is queued again; it is sent within a few seconds.", id=delivery_id), "success")
    except outbox.ReplayError:
        flash(_("Delivery %(id)d is waiting for its next attempt already.", id=delivery_id), "info")
    failed = request.form.get("status") == "failed"
    return redirect(url_for(".index", course=course_id, status="failed" if failed else None), 303)
