"""Every error a person or a script can cause gets a clear answer: a page for the browser,
``{"error": {"code", "message", "field"}}`` for the API. Never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("grader.web")

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "too_large", 415: "unsupported_type", 422: "invalid",
         429: "rate_limited", 500: "internal_error", 503: "unavailable"}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def api_error(status: int, message: str, code: str | None = None, field: str | None = None):  # noqa: ANN201
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "field": field}}
    return jsonify(body), status


def _page(status: int, title: str, message: str):  # noqa: ANN202
    return render_template("error.html", status=status, title=title, message=message), status


def _messages(status: int) -> tuple[str, str]:
    return {
        400: (_("Bad request"), _("The request could not be understood.")),
        401: (_("Sign in required"), _("Please sign in first.")),
        403: (_("Not allowed"), _("You are not allowed to do that.")),
        404: (_("Not found"), _("There is nothing here.")),
        405: (_("Not allowed"), _("This address does not take that kind of request.")),
        413: (_("File too large"), _("The upload is larger than the limit.")),
        415: (_("Unsupported file"), _("Submit a .py file or a .ipynb notebook.")),
        422: (_("Cannot take this in"), _("Something in the request is missing or invalid.")),
        429: (_("Too many requests"), _("Slow down a little and try again in a minute.")),
    }.get(status, (_("Something went wrong"), _("The server could not answer this request.")))


def handle_http(exc: HTTPException):  # noqa: ANN201
    status = exc.code or 500
    title, message = _messages(status)
    if status == 413:
        from grader.web.context import config

        message = _("The upload is larger than %(kib)d KiB.", kib=config().max_upload_bytes // 1024)
    if status == 429:
        message = _("Too many requests: %(limit)s. Try again in a minute.", limit=exc.description)
    if wants_json():
        # Werkzeug's own descriptions are English only; a description given on purpose
        # (``abort(400, "...")``) says more than the generic sentence.
        custom = exc.description and exc.description != type(exc).description
        detail = exc.description if custom and status not in (404, 413, 429, 500) else message
        response, status = api_error(status, detail)
    else:
        response, status = _page(status, title, message)
    allowed = getattr(exc, "valid_methods", None)  # a 405 says what the address does take
    return (response, status, {"Allow": ", ".join(allowed)}) if allowed else (response, status)


def handle_csrf(exc: CSRFError):  # noqa: ANN201
    message = _("The form expired or was sent twice. Go back, reload the page and try again.")
    if wants_json():
        return api_error(400, message, "csrf_failed")
    return _page(400, _("Form expired"), message)


def handle_unexpected(exc: Exception):  # noqa: ANN201
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
