"""``/api/v1/submissions``: submit a file, read its grade."""

from __future__ import annotations

import json

from flask import current_app, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from grader.engine.results import GradeResult
from grader.i18n import localize
from grader.i18n.localize import localize_result
from grader.web.language import current_locale
from grader.queue import publish
from grader.store import submissions
from grader.store.models import RunStatus, Submission
from grader.web.api import ApiError, api, api_rate_key, api_user
from grader.web.api.schemas import Accepted, Check, SubmissionIn, SubmissionOut
from grader.web.context import config, database, db
from grader.web.extensions import limiter, submit_limit


@api.route("/submissions", methods=["POST"])
@limiter.limit(submit_limit, key_func=api_rate_key)
def create_submission():  # noqa: ANN201
    """Submit a file for grading.
    ---
    post:
      summary: Submit a file for grading
      description: >
        Multipart form with fields `exercise` and `file` (a .py file or a .ipynb notebook), or
        a JSON body (SubmissionIn). The file is stored and queued; poll `url` for the grade.
      security: [{bearer: []}]
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [exercise, file]
              properties:
                exercise: {type: string, description: "The exercise's slug.", example: none-grad-after-rebinding}
                course: {type: string, description: "Course id; default: your course with this exercise."}
                file: {type: string, format: binary}
          application/json:
            schema: SubmissionIn
      responses:
        202:
          description: Stored and queued
          headers:
            Location: {description: Where to poll for the grade (the body's url)., schema: {type: string}}
          content: {application/json: {schema: Accepted}}
        400: {$ref: "#/components/responses/Error"}
        401: {$ref: "#/components/responses/Error"}
        404: {$ref: "#/components/responses/Error"}
        413: {$ref: "#/components/responses/Error"}
        415: {$ref: "#/components/responses/Error"}
        422: {$ref: "#/components/responses/Error"}
        429: {$ref: "#/components/responses/Error"}
    """
    cap = config().max_upload_bytes
    try:
        with database().unit_of_work() as session:
            # the token's user is read in the transaction that stores the submission: on
            # PostgreSQL a reading session of its own would add a BEGIN and a ROLLBACK
            user = api_user(write=True, session=session)
            exercise, filename, data, course = _read_request()
            accepted = submissions.submit(session, user, exercise, filename, data, cap, origin="api", course_id=course)
            position = accepted.position
            body = Accepted(id=accepted.submission.id, status=accepted.run.status,
                            url=url_for("api.get_submission", submission_id=accepted.submission.id, _external=True),
                            queue_position=position, delayed=position > config().queue_limit)
    except submissions.SubmissionRejected as exc:
        raise ApiError(exc.status, localize.render(exc.text, current_locale()), exc.code, exc.field) from None
    publish.for_app(current_app).publish_runs([accepted.run.id])  # after the commit: a worker must find the run
    return body.model_dump(mode="json"), 202, {"Location": body.url}


def _read_request() -> tuple[str, str, bytes, str | None]:
    """The submission in the body: (exercise, filename, data, course). Werkzeug has already
    answered 413 for a body over ``MAX_CONTENT_LENGTH`` when it is read here."""
    mimetype = request.mimetype
    if mimetype == "application/json":
        return _read_json()
    if mimetype == "multipart/form-data":
        exercise = request.form.get("exercise", "").strip()
        if not exercise:
            raise ApiError(422, _("The field 'exercise' is missing."), "missing_field", "exercise")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ApiError(422, _("The field 'file' is missing."), "missing_field", "file")
        return exercise, upload.filename, upload.read(config().max_upload_bytes + 1), request.form.get("course") or None
    raise ApiError(415, _("Send multipart/form-data (fields exercise and file) or application/json."),
                   "unsupported_media_type")


def _read_json() -> tuple[str, str, bytes, str | None]:
    try:
        payload = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, _("The body is not valid JSON."), "bad_json") from None
    try:
        parsed = SubmissionIn.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        raise ApiError(422, _("%(field)s: %(problem)s", field=field or "body", problem=first["msg"]),
                       "invalid", field) from None
    try:
        filename, data = parsed.as_file()
    except UnicodeEncodeError:
        raise ApiError(422, _("The source is not valid Unicode text."), "not_utf8", "source") from None
    return parsed.exercise, filename, data, parsed.course


@api.route("/submissions/<int:submission_id>")
def get_submission(submission_id: int):  # noqa: ANN201
    """A submission's status and grade.
    ---
    get:
      summary: A submission's status and grade
      description: >-
        Students see their own submissions only; hidden checks show their verdict only.
        Messages, hints, descriptions and notes are in the language of ?lang= (en, zh, ru),
        else of Accept-Language, else English; check names, verdicts and field names are
        stable English identifiers in every language.
      security: [{bearer: []}]
      parameters:
        - {name: submission_id, in: path, required: true, schema: {type: integer, minimum: 1}}
        - {name: lang, in: query, required: false, schema: {type: string, enum: [en, zh, ru]},
           description: The language of the feedback texts}
      responses:
        200: {description: The submission, content: {application/json: {schema: SubmissionOut}}}
        401: {$ref: "#/components/responses/Error"}
        404: {$ref: "#/components/responses/Error"}
    """
    user = api_user()
    found = submissions.get_for(db(), user, submission_id)
    if found is None:
        raise ApiError(404, _("There is no submission %(id)d.", id=submission_id), "not_found")
    full = submissions.can_teach(db(), user, found.course_id)
    return describe(found, full=full).model_dump(mode="json")


def describe(found: Submission, full: bool) -> SubmissionOut:
    """``full``: the view of an instructor of the submission's course, hidden checks included;
    everyone else sees a hidden check's verdict and points only."""
    latest, shown = found.latest_run, submissions.shown_result(found)
    out = SubmissionOut(id=found.id, exercise=found.exercise.slug, status=latest.status if latest else "queued",
                        created_at=found.created_at,
                        queue_position=submissions.queue_position(db(), latest) if latest else None)
    if shown is not None:
        out.graded_at = shown.finished_at
        out.seconds = round(shown.grading_seconds, 3) if shown.grading_seconds is not None else None
        if shown.status == RunStatus.FAILED.value:
            out.error = shown.error
        else:
            result = GradeResult.from_dict(shown.result)
            view = result.to_dict() if full else result.student_dict()  # hidden checks: verdict only
            out.score, out.max_score = shown.score, shown.max_score
            view = localize_result(view, current_locale())  # ?lang= or Accept-Language
            out.checks = [Check.model_validate(check) for check in view["checks"]]
            out.notes, out.error = view["notes"], view.get("error")
    return out
