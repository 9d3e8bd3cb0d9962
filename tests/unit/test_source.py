"""grader.engine.source: every unreadable submission becomes a SubmissionError a student can act on."""

from __future__ import annotations

import nbformat
import pytest
from nbformat import v4

from grader.engine.source import MAX_SUBMISSION_BYTES, SubmissionError, parse_submission, read_submission


def notebook_bytes(*cells: str) -> bytes:
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb).encode()


def test_a_python_file_is_read_as_is():
    sub = parse_submission("answer.py", b"import torch\nx = 1\n")
    assert (sub.filename, sub.source, sub.notes) == ("answer.py", "import torch\nx = 1\n", [])


def test_the_suffix_is_case_insensitive():
    assert parse_submission("ANSWER.PY", b"x = 1\n").source == "x = 1\n"


def test_a_utf8_byte_order_mark_is_dropped():
    assert parse_submission("a.py", "\ufeffx = 'é'\n".encode("utf-8")).source == "x = 'é'\n"


def test_a_notebook_is_turned_into_source_with_notes():
    sub = parse_submission("answer.ipynb", notebook_bytes("import torch", "!pip install torch"))
    assert sub.filename == "answer.ipynb"
    assert "import torch" in sub.source and "get_ipython().system('pip install torch')" in sub.source
    assert sub.notes == ["1 IPython magic, shell (!) or help (?) line was not run."]
    compile(sub.source, sub.filename, "exec")


def test_an_invalid_notebook_is_a_submission_error():
    with pytest.raises(SubmissionError, match="not a valid Jupyter notebook"):
        parse_submission("answer.ipynb", b"import torch\n")


@pytest.mark.parametrize("filename, shown", [
    ("answer.txt", ".txt"), ("answer.pyc", ".pyc"), ("answer", "extensionless"), ("answer.py.zip", ".zip"),
])
def test_an_unsupported_suffix_is_a_submission_error_naming_it(filename, shown):
    with pytest.raises(SubmissionError) as info:
        parse_submission(filename, b"x = 1\n")
    assert shown in str(info.value) and ".py or .ipynb" in str(info.value)


@pytest.mark.parametrize("data", [b"x = '\xff'\n", b"\xfe\xff\x00x", "x = 'é'".encode("latin-1")])
def test_non_utf8_bytes_are_a_submission_error(data):
    with pytest.raises(SubmissionError, match="not UTF-8 text"):
        parse_submission("a.py", data)


def test_nul_bytes_are_a_submission_error():
    with pytest.raises(SubmissionError, match="NUL bytes"):
        parse_submission("a.py", b"x = 1\x00\n")


def test_an_oversize_file_is_a_submission_error_before_decoding():
    with pytest.raises(SubmissionError, match="larger than 1024 KiB"):
        parse_submission("a.py", b"\xff" * (MAX_SUBMISSION_BYTES + 1))


def test_a_file_exactly_at_the_size_cap_is_accepted():
    data = b"#" * MAX_SUBMISSION_BYTES
    assert len(parse_submission("a.py", data).source) == MAX_SUBMISSION_BYTES


def test_read_submission_reads_a_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("x = 1\n", encoding="utf-8")
    assert read_submission(path).source == "x = 1\n"
    assert read_submission(path).filename == "mine.py"


def test_read_submission_on_a_missing_file_says_it_does_not_exist(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        read_submission(tmp_path / "nope.py")


def test_read_submission_on_a_directory_says_it_is_a_directory(tmp_path):
    (tmp_path / "folder.py").mkdir()
    with pytest.raises(SubmissionError, match="is a directory, not a file"):
        read_submission(tmp_path / "folder.py")
