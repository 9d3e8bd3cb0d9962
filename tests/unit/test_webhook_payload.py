"""The webhook payload model: known fields validated (errors name the field, as the API's 422
does), unknown fields ignored, the first gradable file chosen."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from grader.lms.inbound import WebhookPayload
from grader.store.submissions import SubmissionRejected


def payload(**changes) -> dict:  # noqa: ANN003
    base = {"course": "demo", "assignment": "none-grad-after-rebinding", "user": {"id": "u1"},
            "files": [{"name": "fix.py", "content": "import torch\n"}]}
    base.update(changes)
    return base


def first_error_field(data: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        WebhookPayload.model_validate(data)
    return ".".join(str(part) for part in caught.value.errors()[0]["loc"])


def test_minimal_payload_is_valid():
    parsed = WebhookPayload.model_validate(payload())
    assert parsed.user.id == "u1" and parsed.reply_to is None and parsed.attempt is None


def test_unknown_fields_are_ignored_at_every_level():
    parsed = WebhookPayload.model_validate(payload(extra=1, user={"id": "u1", "roles": ["x"]},
                                                   files=[{"name": "a.py", "content": "x", "mime": "text/x"}]))
    assert parsed.files[0].name == "a.py"


def test_numeric_user_id_is_taken_as_text():
    assert WebhookPayload.model_validate(payload(user={"id": 12345})).user.id == "12345"


def test_notebook_given_as_an_object_becomes_its_json_text():
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    parsed = WebhookPayload.model_validate(payload(files=[{"name": "a.ipynb", "content": notebook}]))
    assert json.loads(parsed.files[0].content) == notebook


@pytest.mark.parametrize("data, field", [
    (payload(files=[{"name": "fix.py", "content": 5}]), "files.0.content"),
    (payload(files=[{"name": "fix.py"}]), "files.0.content"),
    (payload(files=[]), "files"),
    (payload(files="fix.py"), "files"),
    (payload(user={"name": "no id"}), "user.id"),
    (payload(user={"id": ""}), "user.id"),
    (payload(user={"id": True}), "user.id"),
    (payload(user={"id": "a\x00b"}), "user.id"),
    (payload(attempt=0), "attempt"),
    (payload(attempt="first"), "attempt"),
    (payload(submitted_at="yesterday"), "submitted_at"),
    (payload(course=7), "course"),
    (payload(assignment=""), "assignment"),
    (payload(reply_to={"callback": 3}), "reply_to.callback"),
    (payload(reply_to={"lti_ags": {"issuer": "https://lms"}}), "reply_to.lti_ags.lineitem"),
    (payload(reply_to={"lti_ags": {"issuer": "https://lms", "lineitem": "javascript:alert(1)"}}),
     "reply_to.lti_ags.lineitem"),
])
def test_bad_types_name_the_field(data: dict, field: str):
    assert first_error_field(data) == field


def test_missing_top_level_fields_are_named():
    assert first_error_field({"assignment": "x", "user": {"id": "u"}, "files": [{"name": "a", "content": ""}]}) \
        == "course"


def test_submitted_at_takes_iso_8601():
    parsed = WebhookPayload.model_validate(payload(submitted_at="2026-12-01T17:00:00+01:00"))
    assert parsed.submitted_at.utcoffset().total_seconds() == 3600


def test_first_py_or_ipynb_file_is_the_graded_one():
    parsed = WebhookPayload.model_validate(payload(files=[
        {"name": "README.md", "content": "hi"}, {"name": "work/Solution.IPYNB", "content": "{}"},
        {"name": "fix.py", "content": "x"}]))
    index, file = parsed.gradable()
    assert index == 1 and file.name == "work/Solution.IPYNB"


def test_no_gradable_file_is_rejected_naming_files():
    parsed = WebhookPayload.model_validate(payload(files=[{"name": "notes.txt", "content": "x"}]))
    with pytest.raises(SubmissionRejected) as caught:
        parsed.gradable()
    assert (caught.value.code, caught.value.field, caught.value.status) == ("no_gradable_file", "files", 422)
