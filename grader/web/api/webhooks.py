"""``POST /api/v1/webhooks/<source>``: submissions from course platforms (Standard Webhooks).

The order matters: the body is read (capped), then its signature verified, and only a
verified body is parsed. Any verification problem is a 401 with a JSON error naming the
reason, never a 2xx or a 5xx, so a forged or replayed request learns nothing else.
"""

from __future__ import annotations

import json

from flask import current_app, request
from flask_babel import gettext as _
from pydantic import ValidationError

from grader.lms import inbound, sources
from grader.queue import publish
from grader.store.submissions import SubmissionRejected
from grader.web.api import ApiError, api
from grader.web.api.schemas import WebhookAccepted
from grader.web.context import config, database, db, external_url
from grader.web.errors import api_error

ENVELOPE_BYTES = 64 * 1024  # JSON around the file: names, user, reply_to, escaping


@api.route("/webhooks/<source>", methods=["POST"])
def receive_webhook(source: str):  # noqa: ANN201
    """Receive a submission from a course platform.
    ---
    post:
      summary: Receive a submission from a course platform (signed webhook)
      description: |
        Signed with the [Standard Webhooks](https://www.standardwebhooks.com/) scheme using a
        secret of the source (`grader sources add NAME` prints it once; `grader sources rotate
        NAME` adds a new one, the old one stays valid for a grace period):

        - `webhook-id`: a unique id of the message; a redelivery carries the same id and gets
          the same answer (same submission, graded once).
        - `webhook-timestamp`: Unix time in seconds; refused when more than 5 minutes off.
        - `webhook-signature`: `v1,` + base64 HMAC-SHA256, keyed with the base64-decoded part of
          the `whsec_` secret, over `{webhook-id}.{webhook-timestamp}.{body}`. Several
          space-separated entries may be sent (one per secret).

        Any verification problem (unknown source, a missing or malformed header, a stale
        timestamp, a wrong signature) answers 401 with the reason as `error.code`:
        `unknown_source`, `missing_headers`, `malformed_signature`, `stale_timestamp`,
        `bad_signature`. The body (WebhookPayload) names the course, the assignment (an
        exercise slug of that course), the platform's user, the files (the first .py or .ipynb
        is graded) and where the grade goes (`reply_to`). Unknown fields are ignored.
      parameters:
        - {name: source, in: path, required: true, description: "The source's name (grader sources list).",
           schema: {type: string, pattern: "^[a-z0-9][a-z0-9_-]{0,63}$"}}
        - {name: webhook-id, in: header, required: true, schema: {type: string, maxLength: 255}}
        - {name: webhook-timestamp, in: header, required: true, schema: {type: string, example: "1796144400"}}
        - {name: webhook-signature, in: header, required: true,
           schema: {type: string, example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}}
      requestBody:
        required: true
        content: {application/json: {schema: WebhookPayload}}
      responses:
        202:
          description: Stored and queued (or, for a redelivery, stored before)
          headers:
            Location: {description: The status_url., schema: {type: string}}
          content: {application/json: {schema: WebhookAccepted}}
        400: {$ref: "#/components/responses/Error"}
        401: {$ref: "#/components/responses/Error"}
        413: {$ref: "#/components/responses/Error"}
        415: {$ref: "#/components/responses/Error"}
        422: {$ref: "#/components/responses/Error"}
    """
    settings = config()
    body = request.get_data(cache=False)  # Werkzeug answers 413 beyond MAX_CONTENT_LENGTH
    if len(body) > settings.max_upload_bytes + ENVELOPE_BYTES:
        raise ApiError(413, _("The body is larger than %(kib)d KiB.",
                              kib=(settings.max_upload_bytes + ENVELOPE_BYTES) // 1024), "too_large")
    found = sources.source_by_name(db(), source)
    try:
        if found is None:
            raise sources.WebhookRefused("unknown_source", _("There is no webhook source %(name)s.",
                                                             name=repr(source[:64])), "source")
        secrets = [row.secret for row in sources.valid_secrets(db(), found)]
        message_id = sources.verify(secrets, body, request.headers, settings.webhook_tolerance_seconds)
    except sources.WebhookRefused as exc:
        # not ApiError: its 401 challenges for a Bearer token, which is not what is missing here
        return api_error(401, exc.message, exc.reason, exc.field)
    payload = _payload(body)
    try:
        received = inbound.receive_once(database(), found, message_id, payload, settings.max_upload_bytes)
    except SubmissionRejected as exc:
        raise ApiError(exc.status, exc.message, exc.code, exc.field) from None
    if received.created:  # after the commit: a worker must find the run
        publish.publish_queued_of(publish.for_app(current_app), database(), received.submission.id)
    status_url = external_url("api.get_submission", submission_id=received.submission.id)
    answer = WebhookAccepted(submission_id=received.submission.id, status_url=status_url)
    return answer.model_dump(mode="json"), 202, {"Location": status_url}


def _payload(body: bytes) -> inbound.WebhookPayload:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, _("The body is not valid JSON."), "bad_json") from None
    try:
        return inbound.WebhookPayload.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        raise ApiError(422, _("%(field)s: %(problem)s", field=field or "body", problem=first["msg"]),
                       "invalid", field) from None
