"""Reading a submitted file into source text the sandbox can import.

Every way a file can be unreadable becomes a :class:`SubmissionError` with a sentence a
student can act on; nothing here executes the submission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.engine.notebooks import NotebookError, notebook_to_source
from grader.i18n.text import N_, T, Text

MAX_SUBMISSION_BYTES = 1 << 20


class SubmissionError(Exception):
    """The file cannot be graded at all; ``text`` is the sentence, translatable."""

    def __init__(self, text: "str | Text"):
        super().__init__(str(text))
        self.text = text


@dataclass(frozen=True)
class SubmissionSource:
    filename: str  # shown in tracebacks and feedback
    source: str
    notes: list = field(default_factory=list)  # str or Text


def read_submission(path: Path) -> SubmissionSource:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SubmissionError(T("{path} does not exist", path=str(path))) from None
    except IsADirectoryError:
        raise SubmissionError(T("{path} is a directory, not a file", path=str(path))) from None
    except OSError as exc:
        raise SubmissionError(T("{path} cannot be read: {reason}", path=str(path), reason=exc.strerror)) from None
    return parse_submission(path.name, data)


def parse_submission(filename: str, data: bytes) -> SubmissionSource:
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(T("the file is larger than {size} KiB", size=MAX_SUBMISSION_BYTES // 1024))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(N_("the file is not UTF-8 text")) from None
    if "\x00" in text:
        raise SubmissionError(N_("the file contains NUL bytes; is it really a Python file?"))
    suffix = Path(filename).suffix.lower()
    if suffix == ".py":
        return SubmissionSource(filename=filename, source=text)
    if suffix == ".ipynb":
        try:
            source, notes = notebook_to_source(text)
        except NotebookError as exc:
            raise SubmissionError(exc.args[0]) from None
        return SubmissionSource(filename=filename, source=source, notes=notes)
    raise SubmissionError(
        T("cannot grade a {suffix} file: submit a .py or .ipynb file", suffix=suffix) if suffix
        else N_("cannot grade an extensionless file: submit a .py or .ipynb file"))
