"""LTI 1.3 endpoints: OIDC login initiation, launch, Deep Linking, the tool's JWKS and its
configuration JSON. The flows live in :mod:`grader.lms.lti.tool`; these views only turn
requests into calls and answers into pages."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from grader.lms.lti.keys import ToolKeys
from grader.lms.lti.security import STATE_MAX_AGE, LaunchError
from grader.lms.lti.tool import LtiTool
from grader.store import catalog
from grader.store.models import User
from grader.web.context import SignedIn, config, database, db, external_url
from grader.web.language import remember_launch_locale
from grader.web.extensions import csrf

log = logging.getLogger("grader.web.lti")
bp = Blueprint("lti", __name__)
DEEP_LINK_KEY = "lti_deep_link"
SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score"]


def _tool() -> LtiTool:
    return LtiTool(database(), config(), current_app.extensions["grader.bank"])


def _refused(error: LaunchError):  # noqa: ANN202
    log.warning("LTI %s refused (%d): %s", request.path, error.status, error.message)
    titles = {400: _("This launch cannot be used"), 401: _("This launch could not be verified"),
              403: _("This launch is not allowed"), 404: _("Nothing to open")}
    return render_template("error.html", status=error.status, title=titles.get(error.status, _("Launch failed")),
                           message=error.message), error.status


def _secure() -> bool:
    return request.is_secure or config().base_url.startswith("https://")


# ----------------------------------------------------------------------------- login + launch
@bp.route("/lti/login", methods=["GET", "POST"])
@csrf.exempt
def login():  # noqa: ANN201
    try:
        started = _tool().begin_login(request.values, external_url("lti.launch"))
    except LaunchError as error:
        return _refused(error)
    response = redirect(started.url)
    # The launch comes back as a cross-site POST: only a SameSite=None (so Secure) cookie is
    # sent with it. Over plain http (tests, a laptop) the signed state alone binds the launch.
    response.set_cookie(started.cookie_name, "1", max_age=STATE_MAX_AGE, httponly=True, path="/lti/",
                        secure=_secure(), samesite="None" if _secure() else "Lax")
    return response


@bp.route("/lti/launch", methods=["POST"])
@csrf.exempt
def launch():  # noqa: ANN201
    try:
        outcome = _tool().launch(request.form.get("id_token"), request.form.get("state"), request.cookies,
                                 _secure())
    except LaunchError as error:
        return _refused(error)
    signed_in = SignedIn.of(db().get(User, outcome.user_id))
    session.clear()  # a new session on sign-in: an id planted before it is worthless
    login_user(signed_in)
    remember_launch_locale(outcome.locale)
    if outcome.deep_linking is not None:
        session[DEEP_LINK_KEY] = {"platform_id": outcome.platform_id, "deployment_id": outcome.deployment_id,
                                  "settings": outcome.deep_linking, "course_id": outcome.course_id}
        return redirect(url_for("lti.deep_link"))
    return redirect(url_for("student.exercise", slug=outcome.exercise_slug))


# ----------------------------------------------------------------------------- deep linking
@bp.route("/lti/deep-link", methods=["GET", "POST"])
@login_required
def deep_link():  # noqa: ANN201
    pending = session.get(DEEP_LINK_KEY)
    if not pending or not current_user.is_instructor:
        return _refused(LaunchError(400, _("There is no content selection in progress: start it again from "
                                           "your course's \"add content\" page.")))
    exercises = catalog.course_exercises(db(), pending["course_id"])
    if request.method == "GET":
        return render_template("lti/deep_link.html", exercises=exercises,
                               title=pending["settings"].get("title") or "")
    # (The POST carries the CSRF token: CSRFProtect checked it before this view ran.)
    slug = request.form.get("exercise", "")
    if slug not in {e.slug for e in exercises}:
        return _refused(LaunchError(404, _("There is no exercise %(slug)s in this course.", slug=slug[:100])))
    try:
        jwt_value, return_url = _tool().deep_link_jwt(pending["platform_id"], pending["deployment_id"],
                                                      pending["settings"], slug, external_url("lti.launch"))
    except LaunchError as error:
        return _refused(error)
    session.pop(DEEP_LINK_KEY, None)
    return render_template("lti/deep_link_return.html", jwt=jwt_value, return_url=return_url)


# ----------------------------------------------------------------------------- published
@bp.route("/.well-known/jwks.json")
def jwks():  # noqa: ANN201
    response = jsonify(ToolKeys(config().instance_path).jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/lti/config.json")
def tool_config():  # noqa: ANN201
    """A tool configuration in the shape Canvas imports (Moodle and others ask for the same
    URLs one by one: ``grader lti urls`` prints them)."""
    launch_url = external_url("lti.launch")
    domain = launch_url.split("://", 1)[-1].split("/", 1)[0]
    return jsonify({
        "title": "torch-grader",
        "description": _("Property-checked PyTorch autograd exercises, graded automatically."),
        "target_link_uri": launch_url,
        "oidc_initiation_url": external_url("lti.login"),
        "public_jwk_url": external_url("lti.jwks"),
        "redirect_uris": [launch_url],
        "scopes": SCOPES,
        "extensions": [{
            "platform": "canvas.instructure.com",
            "domain": domain,
            "privacy_level": "public",
            "settings": {"placements": [
                {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": launch_url},
                {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": launch_url},
            ]},
        }],
        "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
        "messages": [{"type": "LtiDeepLinkingRequest", "target_link_uri": launch_url,
                      "placements": ["link_selection", "assignment_selection"]},
                     {"type": "LtiResourceLinkRequest", "target_link_uri": launch_url}],
    })
