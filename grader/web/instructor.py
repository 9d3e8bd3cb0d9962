"""Instructor pages (filled in below)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

from grader.web.context import instructor_required

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


@bp.route("/gradebook")
@login_required
def gradebook():  # noqa: ANN201
    instructor_required()
    return "gradebook"
