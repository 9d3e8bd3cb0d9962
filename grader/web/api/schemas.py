"""The API's data shapes (pydantic), used both to validate requests and to write the OpenAPI
document, so the document cannot drift from the code."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_serializer
from pydantic.json_schema import models_json_schema

from grader.lms.inbound import WebhookPayload


class SubmissionIn(BaseModel):
    """A submission sent as JSON (the other way is multipart: fields ``exercise`` and ``file``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"exercise": "none-grad-after-rebinding", "filename": "fix.py", "source": "import torch\n"}]})
    exercise: str = Field(min_length=1, max_length=100, description="The exercise's slug.")
    filename: Optional[str] = Field(None, min_length=1, max_length=200,
                                    description="Decides the format: a name ending in .py or .ipynb. "
                                                "Default: submission.py for text, submission.ipynb for an object.")
    source: Union[str, dict[str, Any]] = Field(
        description="The file's text (Python source, or a notebook's JSON), or the notebook itself as an object.")
    course: Optional[str] = Field(None, max_length=64, description="Course id; default: your course with this exercise.")

    def as_file(self) -> tuple[str, bytes]:
        """The file this body stands for: its name and its bytes, as if uploaded.

        Raises UnicodeEncodeError for text no file could hold (a lone surrogate from a ``\\ud800`` escape)."""
        if isinstance(self.source, dict):
            return self.filename or "submission.ipynb", json.dumps(self.source, ensure_ascii=False).encode("utf-8")
        return self.filename or "submission.py", self.source.encode("utf-8")


class Accepted(BaseModel):
    id: int
    status: Literal["queued", "running", "graded", "failed"]
    url: str = Field(description="Where to poll for the grade.")
    queue_position: Optional[int] = None
    delayed: bool = Field(False, description="True when the queue is longer than usual: grading will take a while.")


class Check(BaseModel):
    """One check's result, the same object as in ``grader grade --json``: absent fields are left
    out, never null. For a student, a hidden check carries only name, verdict, points,
    max_points, visible and message."""

    # The document describes the fields (the serializer below only drops the absent ones).
    model_config = ConfigDict(json_schema_mode_override="validation")

    name: str
    verdict: Literal["passed", "failed", "error", "timeout", "memory", "crashed", "invalid-reply"]
    points: float
    max_points: float
    message: Optional[str] = None
    description: Optional[str] = None
    visible: bool = True
    hint: Optional[str] = None
    counterexample: Optional[dict[str, Any]] = None
    expected: Optional[str] = None
    got: Optional[str] = None
    output: Optional[str] = None
    minimal: Optional[bool] = Field(None, description="False when shrinking stopped at its budget: "
                                    "the counterexample fails, but a smaller one may exist.")
    graph: Optional[dict[str, Any]] = Field(None, description="For a failed gradient-flow check: "
                                            "{student, expected} autograd graphs (nodes, edges, cuts).")

    @model_serializer(mode="wrap")
    def _absent_fields_left_out(self, handler):  # noqa: ANN001, ANN202
        return {key: value for key, value in handler(self).items() if value is not None}


class SubmissionOut(BaseModel):
    id: int
    exercise: str
    status: Literal["queued", "running", "graded", "failed"]
    score: Optional[float] = None
    max_score: Optional[float] = None
    checks: list[Check] = []
    notes: list[str] = []
    error: Optional[str] = Field(None, description="Why the submission could not be graded, if so.")
    queue_position: Optional[int] = None
    created_at: dt.datetime
    graded_at: Optional[dt.datetime] = None
    seconds: Optional[float] = Field(None, description="How long grading took, queueing excluded.")


class ExerciseOut(BaseModel):
    slug: str
    title: str
    summary: str
    points: float
    url: str
    stub_py: str
    stub_ipynb: str


class ExerciseList(BaseModel):
    exercises: list[ExerciseOut]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    queue_length: Optional[int] = None


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable identifier, e.g. unknown_exercise, too_large, unauthorized.")
    message: str = Field(description="A sentence for a person.")
    field: Optional[str] = Field(None, description="The request field at fault, if one is.")


class Error(BaseModel):
    error: ErrorDetail


class WebhookAccepted(BaseModel):
    """The answer to a webhook: the same for every delivery of one ``webhook-id``."""

    submission_id: int
    status_url: str = Field(description="GET it (Authorization: Bearer <token> of an instructor of the course) "
                                        "for the status and the grade.")


MODELS = (SubmissionIn, Accepted, Check, SubmissionOut, ExerciseOut, ExerciseList, Health, ErrorDetail, Error,
          WebhookAccepted)
REQUEST_MODELS = (SubmissionIn, WebhookPayload)  # documented as they are validated


def component_schemas() -> dict[str, dict]:
    _, top = models_json_schema([(m, "serialization") for m in MODELS if m not in REQUEST_MODELS]
                                + [(m, "validation") for m in REQUEST_MODELS],
                                ref_template="#/components/schemas/{model}")
    return top.get("$defs", {})
