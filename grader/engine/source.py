"""Reading a submitted file into source text the sandbox can import.

Every way a file can be unreadable becomes a :class:`SubmissionError` with a sentence a
student can act on; nothing here executes the submission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.engine.notebooks import NotebookError, notebook_to_source

MAX_SUBMISSION_BYTES = 1 << 20


class SubmissionError(Exception):
    """The file cannot be graded at all."""


@dataclass(frozen=True)
class SubmissionSource:
    filename: str  # shown in tracebacks and feedback
    source: str
    notes: list[str] = field(default_factory=list)


def read_submission(path: Path) -> SubmissionSource:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SubmissionError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise SubmissionError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise SubmissionError(f"{path} cannot be read: {exc.strerror}") from None
    return parse_submission(path.name, data)


def parse_submission(filename: str, data: bytes) -> SubmissionSource:
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"the file is larger than {MAX_SUBMISSION_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError("the file is not UTF-8 text") from None
    if "\x00" in text:
        raise SubmissionError("the file contains NUL bytes; is it really a Python file?")
    suffix = Path(filename).suffix.lower()
    if suffix == ".py":
        return SubmissionSource(filename=filename, source=text)
    if suffix == ".ipynb":
        try:
            source, notes = notebook_to_source(text)
        except NotebookError as exc:
            raise SubmissionError(str(exc)) from None
        return SubmissionSource(filename=filename, source=source, notes=notes)
    raise SubmissionError(f"cannot grade a {suffix or 'extensionless'} file: submit a .py or .ipynb file")
