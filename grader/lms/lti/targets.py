"""Every submission of an LTI-launched student goes back to the platform, whatever way it
came in (the LTI page, the plain web form, the API): ``submit`` reads the student's grade
link for the exercise with the rest of what it needs and, when there is one, calls this."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from grader.store.models import Submission
from grader.store.models_lms import ReplyTarget, TargetKind

if TYPE_CHECKING:
    from grader.store.submissions import LtiLink


def attach_lti_target(session: Session, submission: Submission, link: "LtiLink") -> ReplyTarget:
    """The new submission's reply target on the link's line item (a new submission has none yet)."""
    target = ReplyTarget(submission_id=submission.id, kind=TargetKind.LTI_AGS.value, url=link.lineitem_url,
                         platform_id=link.platform_id, subject=link.subject)
    session.add(target)
    session.flush()
    return target
