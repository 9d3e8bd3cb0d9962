"""The LTI 1.3 flows end to end, for the views to call: OIDC login initiation, the launch
(validated in :mod:`security`, applied in :mod:`launch`) and the Deep Linking response.

The launch is split in two transactions on purpose: the platform's JWKS is fetched (over the
network, when a key id is new) outside any writing transaction, so a slow platform never
holds the database's write lock; the nonce, the user and the links are then written in one
unit of work, so a replayed or failed launch leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy.orm import Session

from grader.config import Config
from grader.lms.lti import launch as launching
from grader.lms.lti import registry, security
from grader.lms.lti.security import LaunchError, LoginState
from grader.store import accounts, catalog
from grader.store.db import Database
from grader.store.models import Exercise, utcnow
from grader.store.models_lms import LtiPlatform

log = logging.getLogger("grader.lms.lti")

STATE_COOKIE_PREFIX = "lti1p3-state-"


@dataclass(frozen=True)
class LoginRedirect:
    url: str  # the platform's authorization endpoint, with the OIDC parameters
    cookie_name: str  # set on the browser: a launch over https must come back with it


@dataclass(frozen=True)
class LaunchOutcome:
    user_id: int
    exercise_slug: str | None
    course_id: str
    deep_linking: dict[str, Any] | None  # kept in the session until the instructor picks
    platform_id: int
    deployment_id: str
    locale: str | None = None  # the launch_presentation claim's locale, as the platform sent it


class LtiTool:
    def __init__(self, database: Database, config: Config, bank) -> None:  # noqa: ANN001
        self.database, self.config, self.bank = database, config, bank

    # ------------------------------------------------------------------------- login
    def begin_login(self, params: Mapping[str, str], launch_url: str) -> LoginRedirect:
        issuer, client_id = params.get("iss"), params.get("client_id") or None
        login_hint = params.get("login_hint")
        if not issuer or not login_hint:
            raise LaunchError(400, "A login request needs the parameters iss and login_hint.")
        with self.database.reading() as session:
            platform = registry.platform_for(session, issuer, client_id)
            if platform is None:
                raise LaunchError(403, f"The platform {issuer[:200]!r} is not registered with this tool"
                                       + (f" (client id {client_id[:100]!r})" if client_id else "")
                                       + ": register it with `grader lti add-platform`.")
        nonce, browser = secrets.token_urlsafe(24), secrets.token_hex(12)
        state = security.sign_state(self.config.secret_key, LoginState(nonce, platform.issuer, platform.client_id,
                                                                       browser))
        query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
                 "client_id": platform.client_id, "redirect_uri": launch_url, "login_hint": login_hint,
                 "state": state, "nonce": nonce}
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]
        separator = "&" if "?" in platform.auth_url else "?"
        return LoginRedirect(platform.auth_url + separator + urlencode(query), STATE_COOKIE_PREFIX + browser)

    # ------------------------------------------------------------------------- launch
    def launch(self, id_token: str | None, state_token: str | None, cookies: Mapping[str, str],
               secure: bool) -> LaunchOutcome:
        state = security.read_state(self.config.secret_key, state_token)
        if secure and STATE_COOKIE_PREFIX + state.browser not in cookies:
            # Over https the login set a SameSite=None cookie: without it, this launch was
            # not started by this browser (a forged form post).
            raise LaunchError(401, "This launch was not started in this browser: start it again from your "
                                   "course page (and allow cookies for this site).")
        claimed = security.peek(id_token)
        if (claimed.issuer, claimed.client_id) != (state.issuer, state.client_id):
            raise LaunchError(401, "The id_token is from another platform than the login.")
        platform = self._platform(claimed.issuer, claimed.client_id)
        key = self._key(platform, claimed.kid)
        claims = security.verify(id_token, key, platform, self.config.lti_clock_skew_seconds)
        if claims["nonce"] != state.nonce:
            raise LaunchError(401, "The id_token's nonce is not the one of this login.")
        expires = dt.datetime.fromtimestamp(int(claims["exp"]) + self.config.lti_clock_skew_seconds, dt.timezone.utc)
        # A concurrent first launch of the same user (or into the same new course) may commit
        # its rows after this one found none: the launch then runs again (the nonce was
        # rolled back with the rest) and finds the winner's rows.
        return self.database.unit_of_work_run_again_if_raced(
            lambda session: self._apply(session, platform.id, claims, expires), raced=(accounts.EmailTaken,))

    def _apply(self, session: Session, platform_id: int, claims: dict[str, Any],
               expires: dt.datetime) -> LaunchOutcome:
        row = session.get(LtiPlatform, platform_id)
        security.consume_nonce(session, row.issuer, claims["nonce"], expires)
        done = launching.apply_launch(session, row, claims, lambda: catalog.sync_exercises(session, self.bank))
        return LaunchOutcome(done.user.id, done.exercise.slug if done.exercise else None, done.course.id,
                             done.deep_linking, row.id, claims[security.CLAIM + "deployment_id"],
                             _launch_locale(claims))

    def _platform(self, issuer: str, client_id: str) -> LtiPlatform:
        with self.database.reading() as session:
            platform = registry.platform_for(session, issuer, client_id)
        if platform is None:
            raise LaunchError(403, f"The platform {issuer[:200]!r} (client id {client_id[:100]!r}) is not "
                                   "registered with this tool.")
        return platform

    def _key(self, platform: LtiPlatform, kid: str | None) -> dict[str, Any]:
        key = security.key_in(platform.jwks, kid)
        if key is None and security.needs_refetch(platform, kid):
            jwks = security.fetch_jwks(platform.jwks_url, self.config.delivery_timeout_seconds)
            with self.database.unit_of_work() as session:
                row = session.get(LtiPlatform, platform.id)
                row.jwks, row.jwks_fetched_at = jwks, utcnow()
            log.info("fetched the JWKS of %s (%d keys)", platform.issuer, len(jwks["keys"]))
            key = security.key_in(jwks, kid)
        if key is None:
            raise LaunchError(401, f"The id_token is signed with a key the platform does not publish "
                                   f"(kid {str(kid)[:100]!r}).")
        return key

    # ------------------------------------------------------------------------- deep linking
    def deep_link_jwt(self, platform_id: int, deployment_id: str, settings: dict[str, Any], slug: str,
                      launch_url: str) -> tuple[str, str]:
        """The signed LtiDeepLinkingResponse for one exercise, and the URL to post it to."""
        with self.database.reading() as session:
            platform = session.get(LtiPlatform, platform_id)
            exercise = catalog.exercise_by_slug(session, slug)
            if platform is None:
                raise LaunchError(400, "The platform of this deep linking request is no longer registered.")
            if exercise is None:
                raise LaunchError(404, f"There is no exercise {slug[:100]!r}.")
            registration = registry.DatabaseToolConf(session, self.config.instance_path).registration_of(platform)
        resource = resource_for(exercise, launch_url)
        jwt_value = DeepLink(registration, deployment_id, settings).get_response_jwt([resource])
        return jwt_value, settings["deep_link_return_url"]


def resource_for(exercise: Exercise, launch_url: str) -> DeepLinkResource:
    line_item = LineItem().set_score_maximum(exercise.points).set_label(exercise.title) \
        .set_resource_id(exercise.slug)
    return DeepLinkResource().set_type("ltiResourceLink").set_title(exercise.title).set_url(launch_url) \
        .set_custom_params({"exercise": exercise.slug}).set_lineitem(line_item)


def _launch_locale(claims: dict[str, Any]) -> str | None:
    presentation = claims.get(security.CLAIM + "launch_presentation")
    locale = presentation.get("locale") if isinstance(presentation, dict) else None
    return locale[:35] if isinstance(locale, str) else None
