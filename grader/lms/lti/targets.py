"""Every submission of an LTI-launched student goes back to the platform, whatever way it
came in (the LTI page, the plain web form, the API): ``submit`` calls this."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.store.models import Submission
from grader.store.models_lms import LtiGradeLink, ReplyTarget, TargetKind


def attach_lti_targets(session: Session, submission: Submission) -> ReplyTarget | None:
    link = session.scalar(select(LtiGradeLink).where(LtiGradeLink.user_id == submission.user_id,
                                                     LtiGradeLink.exercise_id == submission.exercise_id))
    if link is None:
        return None
    existing = session.scalar(select(ReplyTarget).where(ReplyTarget.submission_id == submission.id,
                                                        ReplyTarget.kind == TargetKind.LTI_AGS.value,
                                                        ReplyTarget.url == link.lineitem_url))
    if existing is not None:
        return existing
    target = ReplyTarget(submission_id=submission.id, kind=TargetKind.LTI_AGS.value, url=link.lineitem_url,
                         platform_id=link.platform_id, subject=link.subject)
    session.add(target)
    session.flush()
    return target
