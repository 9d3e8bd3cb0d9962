"""Every user-facing string is marked for translation and extractable with pybabel, with
named placeholders only (translations reorder words; ``%s`` cannot be reordered)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def extract(tmp_path: Path):  # noqa: ANN201
    out = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-o", str(out), "."], cwd=ROOT, check=True, capture_output=True)
    with out.open("rb") as handle:
        return read_po(handle)


def test_pages_and_feedback_labels_are_in_the_extracted_catalogue(tmp_path):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extract(tmp_path) if m.id}
    for text in ("Sign in", "Submit for grading", "Smallest failing input", "Expected", "Got", "Hint",
                 "Waiting to be graded", "Wrong email or password."):
        assert text in ids, text


def test_catalogue_messages_use_named_placeholders_only(tmp_path):
    positional = re.compile(r"%(?!\()[-+ #0]*\d*(?:\.\d+)?[sdfr]")
    offenders = [m.id for m in extract(tmp_path) if m.id
                 and any(positional.search(part) for part in ([m.id] if isinstance(m.id, str) else m.id))]
    assert offenders == []
