"""The JSON API, ``/api/v1``: versioned, documented at ``/api/v1/openapi.json``.

Scripts authenticate with ``Authorization: Bearer <token>`` (``grader tokens create``). A
signed-in browser may read (GET) with its session cookie; anything that writes needs a
token, so the API needs no CSRF token. Every error is ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, request
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from grader.store import accounts
from grader.store.models import User
from grader.web.context import db
from grader.web.errors import api_error
from grader.web.extensions import csrf

api = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api)


class ApiError(HTTPException):
    def __init__(self, status: int, message: str, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.error_code, self.field = status, message, code, field


@api.errorhandler(ApiError)
def _api_error(exc: ApiError):  # noqa: ANN202
    response, status = api_error(exc.code, exc.message, exc.error_code, exc.field)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="torch-grader"'
    return response, status


def api_user(write: bool = False, session: Session | None = None) -> User:
    """The caller: a Bearer token's user, or (for reading only) the signed-in browser's. Read
    in ``session`` (default: the request's reading session)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _space, token = header.partition(" ")
        user = accounts.user_for_token(session or db(), token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, _("The API token is missing, malformed or revoked."), "unauthorized")
        return user
    if not write:
        from flask_login import current_user

        if current_user.is_authenticated:
            row = (session or db()).get(User, current_user.id)
            if row is not None:
                return row
    raise ApiError(401, _("Send an API token: Authorization: Bearer <token> (grader tokens create EMAIL)."),
                   "unauthorized")


def api_rate_key() -> str:
    header = request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:16]
    return f"addr:{request.remote_addr}"


from grader.web.api import exercises, openapi, submissions, webhooks  # noqa: E402,F401 - the routes
