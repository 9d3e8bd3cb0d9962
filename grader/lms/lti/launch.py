"""What a validated launch does to the local state: the user (matched by the platform's
``sub``), the course bound to the platform's context, the enrolment, the exercise the link
opens and, for a student whose platform offers grade passback, where grades go.

Service functions only: they take a session and verified claims, and do no HTTP.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.lms.lti.security import CLAIM, LaunchError
from grader.store import accounts, catalog
from grader.store.models import Course, Exercise, Role, User, utcnow
from grader.store.models_lms import ExternalIdentity, LtiContext, LtiGradeLink, LtiPlatform, LtiResourceLink

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DEEP_LINKING = "LtiDeepLinkingRequest"
# LIS roles (context, institution or system) that teach: everyone else is a student.
TEACHING_ROLES = {"Instructor", "Administrator", "ContentDeveloper", "TeachingAssistant"}
PLACEHOLDER_DOMAIN = "lti.invalid"


@dataclass
class Launched:
    """The outcome of a launch: who signs in, where, and what they open."""

    user: User
    course: Course
    exercise: Exercise | None  # None for a deep linking request
    deep_linking: dict[str, Any] | None  # the platform's deep_linking_settings claim


def role_from(claims: dict[str, Any]) -> str:
    roles = claims.get(CLAIM + "roles")
    names = {re.split(r"[#/]", role)[-1] for role in roles if isinstance(role, str)} if isinstance(roles, list) else set()
    return Role.INSTRUCTOR.value if names & TEACHING_ROLES else Role.STUDENT.value


def apply_launch(session: Session, platform: LtiPlatform, claims: dict[str, Any], bank_exercises) -> Launched:  # noqa: ANN001
    """``bank_exercises()`` returns the bank's exercise rows (synced): called only when a new
    context needs a course, since syncing reads every exercise folder."""
    role = role_from(claims)
    user = user_for(session, platform, claims, role)
    course = course_for(session, platform, claims, bank_exercises)
    accounts.enrol(session, user, course, role)
    if claims.get(CLAIM + "message_type") == DEEP_LINKING:
        if role != Role.INSTRUCTOR.value:
            raise LaunchError(403, "Only an instructor can choose which exercise a link opens.")
        settings = claims.get(DEEP_LINKING_CLAIM)
        if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
            raise LaunchError(400, "The deep linking request has no return URL.")
        return Launched(user, course, None, settings)
    exercise = exercise_for(session, platform, claims, course)
    if role == Role.STUDENT.value:
        record_grade_link(session, platform, claims, user, exercise)
    return Launched(user, course, exercise, None)


# ----------------------------------------------------------------------------- the user
def user_for(session: Session, platform: LtiPlatform, claims: dict[str, Any], role: str) -> User:
    subject = claims["sub"]
    identity = session.scalar(select(ExternalIdentity).where(ExternalIdentity.issuer == platform.issuer,
                                                             ExternalIdentity.subject == subject))
    if identity is not None:
        user = identity.user
        if role == Role.INSTRUCTOR.value and user.role != role:
            user.role = role  # the platform says they teach now; a launch never demotes anyone
        return user
    user = accounts.create_user(session, _email_for(session, platform, claims), _name_from(claims), role)
    session.add(ExternalIdentity(issuer=platform.issuer, subject=subject, user_id=user.id))
    session.flush()
    return user


def _email_for(session: Session, platform: LtiPlatform, claims: dict[str, Any]) -> str:
    """The email claim when it is an address nobody here has; otherwise a placeholder that
    cannot receive mail (an LTI user signs in through the platform, never by password)."""
    email = accounts.unused_email(session, claims.get("email"))
    if email is not None:
        return email
    digest = hashlib.sha256(f"{platform.issuer}\0{claims['sub']}".encode()).hexdigest()[:16]
    return f"lti-{digest}@{PLACEHOLDER_DOMAIN}"


def _name_from(claims: dict[str, Any]) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get(k) for k in ("given_name", "family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    name = "".join(ch for ch in (name or "") if ch.isprintable()).strip()[:200]
    return name or "LTI user"


# ----------------------------------------------------------------------------- the course
def course_for(session: Session, platform: LtiPlatform, claims: dict[str, Any], bank_exercises) -> Course:  # noqa: ANN001
    context = claims.get(CLAIM + "context")
    context = context if isinstance(context, dict) else {}
    context_id = str(context.get("id") or "")[:255]
    row = session.scalar(select(LtiContext).where(LtiContext.platform_id == platform.id,
                                                  LtiContext.context_id == context_id))
    if row is not None:
        return row.course
    if platform.course_id is not None:
        course = session.get(Course, platform.course_id)
    else:
        digest = hashlib.sha256(f"{platform.id}\0{platform.issuer}\0{context_id}".encode()).hexdigest()[:10]
        title = str(context.get("title") or context.get("label") or f"LTI course {digest}")[:200]
        course = accounts.ensure_course(session, f"lti-{digest}", title)
        catalog.add_to_course(session, course, list(bank_exercises()))
    session.add(LtiContext(platform_id=platform.id, context_id=context_id, course_id=course.id))
    session.flush()
    return course


# ----------------------------------------------------------------------------- the exercise
def exercise_for(session: Session, platform: LtiPlatform, claims: dict[str, Any], course: Course) -> Exercise:
    """The custom parameter ``exercise`` when given (and it binds the link), else the
    exercise the link was bound to before."""
    link = claims.get(CLAIM + "resource_link")
    link_id = str(link.get("id") or "")[:255] if isinstance(link, dict) else ""
    custom = claims.get(CLAIM + "custom")
    slug = custom.get("exercise") if isinstance(custom, dict) else None
    bound = session.scalar(select(LtiResourceLink).where(LtiResourceLink.platform_id == platform.id,
                                                         LtiResourceLink.resource_link_id == link_id)) \
        if link_id else None
    if isinstance(slug, str) and slug.strip():
        exercise = catalog.exercise_by_slug(session, slug.strip())
        if exercise is None:
            raise LaunchError(404, f"This link opens the exercise {slug[:100]!r}, which this grader does not have.")
    elif bound is not None:
        exercise = bound.exercise
    else:
        raise LaunchError(404, "This link does not say which exercise it opens: set the custom parameter "
                               "exercise=<slug>, or add the link through the tool's content picker.")
    if not catalog.in_course(session, course.id, exercise):
        raise LaunchError(404, f"The course {course.title!r} has no exercise {exercise.slug!r}.")
    lineitem = _lineitem(claims)
    if link_id and bound is None:
        session.add(LtiResourceLink(platform_id=platform.id, resource_link_id=link_id, exercise_id=exercise.id,
                                    lineitem_url=lineitem))
    elif bound is not None:
        bound.exercise_id = exercise.id
        bound.lineitem_url = lineitem or bound.lineitem_url
    session.flush()
    return exercise


def _lineitem(claims: dict[str, Any]) -> str | None:
    endpoint = claims.get(AGS_CLAIM)
    lineitem = endpoint.get("lineitem") if isinstance(endpoint, dict) else None
    return lineitem if isinstance(lineitem, str) and lineitem.startswith(("https://", "http://")) \
        and len(lineitem) <= 2000 else None


def record_grade_link(session: Session, platform: LtiPlatform, claims: dict[str, Any], user: User,
                      exercise: Exercise) -> LtiGradeLink | None:
    """Upsert where this student's grades for this exercise go: the line item of their latest
    launch. A launch without a line item leaves an earlier one in place."""
    lineitem = _lineitem(claims)
    if lineitem is None:
        return None
    context = claims.get(CLAIM + "context")
    context_id = str(context.get("id") or "")[:255] if isinstance(context, dict) else ""
    context_row = session.scalar(select(LtiContext).where(LtiContext.platform_id == platform.id,
                                                          LtiContext.context_id == context_id))
    link = session.scalar(select(LtiGradeLink).where(LtiGradeLink.user_id == user.id,
                                                     LtiGradeLink.exercise_id == exercise.id))
    if link is None:
        link = LtiGradeLink(user_id=user.id, exercise_id=exercise.id, platform_id=platform.id,
                            lineitem_url=lineitem, subject=claims["sub"])
        session.add(link)
    link.platform_id, link.lineitem_url, link.subject = platform.id, lineitem, claims["sub"]
    link.context_id = context_row.id if context_row is not None else None
    link.updated_at = utcnow()
    session.flush()
    return link
