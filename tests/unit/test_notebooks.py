"""grader.notebooks: percent-format stubs to notebooks, and submitted notebooks to source."""

from __future__ import annotations

import json
import textwrap

import nbformat
import pytest
from nbformat import v4

from grader.notebooks import NotebookError, notebook_to_source, split_percent_cells, stub_to_notebook

STUB = textwrap.dedent('''\
    # %% [markdown]
    # # Fix the loop
    # Some *markdown* text.
    #
    #no space after the hash

    # %%
    """Starter."""
    import torch


    # %% the training step
    def step(w, lr):
        return w - lr * w.grad

    # %%

    # %%
    if __name__ == "__main__":
        print(step)
    ''')


def notebook(*cells: str | tuple[str, str]) -> str:
    """A v4 notebook: a str is a code cell, ("markdown", text) a markdown cell."""
    nb = v4.new_notebook()
    for cell in cells:
        if isinstance(cell, tuple):
            nb.cells.append(v4.new_markdown_cell(cell[1]) if cell[0] == "markdown"
                            else v4.new_raw_cell(cell[1]))
        else:
            nb.cells.append(v4.new_code_cell(cell))
    return nbformat.writes(nb)


def code_of(source: str) -> list[str]:
    """The module's lines without the ``# In[n]:`` markers and blank lines."""
    return [l for l in source.splitlines() if l.strip() and not l.startswith("# In[")]


# ----------------------------------------------------------------------------- split_percent_cells
def test_percent_cells_are_split_into_markdown_and_code():
    cells = split_percent_cells(STUB)
    assert [kind for kind, _ in cells] == ["markdown", "code", "code", "code"]
    assert cells[0][1] == "# Fix the loop\nSome *markdown* text.\n\nno space after the hash"
    assert cells[1][1] == '"""Starter."""\nimport torch'
    assert cells[2][1] == "def step(w, lr):\n    return w - lr * w.grad"


def test_code_before_the_first_marker_is_a_code_cell():
    assert split_percent_cells("import torch\n# %%\nx = 1\n") == [("code", "import torch"),
                                                                ("code", "x = 1")]


def test_empty_cells_are_dropped_and_blank_edges_trimmed():
    assert split_percent_cells("# %%\n\n\n# %%\n\nx = 1\n\n\ny = 2\n\n") == [("code", "x = 1\n\n\ny = 2")]


def test_a_script_without_markers_is_one_code_cell():
    assert split_percent_cells("a = 1\nb = 2\n") == [("code", "a = 1\nb = 2")]


def test_an_empty_script_has_no_cells():
    assert split_percent_cells("") == [] and split_percent_cells("\n\n# %%\n") == []


# ----------------------------------------------------------------------------- stub_to_notebook
def test_the_stub_notebook_is_byte_for_byte_deterministic():
    assert stub_to_notebook(STUB, "Fix the loop") == stub_to_notebook(STUB, "Fix the loop")


def test_the_stub_notebook_is_a_valid_v4_notebook_with_fixed_cell_ids():
    text = stub_to_notebook(STUB, "Fix the loop")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert [c.id for c in nb.cells] == ["cell-1", "cell-2", "cell-3", "cell-4"]
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.metadata["torch_grader"] == {"generated_from": "stub.py", "title": "Fix the loop"}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert text.endswith("\n")


def test_the_stub_notebook_changes_when_the_stub_or_title_changes():
    base = stub_to_notebook(STUB, "Fix the loop")
    assert stub_to_notebook(STUB + "x = 1\n", "Fix the loop") != base
    assert stub_to_notebook(STUB, "Another title") != base


def test_the_stub_notebook_read_back_as_a_submission_gives_the_stub_code():
    source, notes = notebook_to_source(stub_to_notebook(STUB, "T"))
    assert notes == []
    compile(source, "stub.ipynb", "exec")
    expected = [l for kind, text in split_percent_cells(STUB) if kind == "code"
                for l in text.splitlines() if l.strip()]
    assert code_of(source) == expected


# ----------------------------------------------------------------------------- notebook_to_source
def test_code_cells_are_concatenated_in_order_and_markdown_is_skipped():
    source, notes = notebook_to_source(notebook(
        ("markdown", "# Title\nimport os"), "import torch", ("raw", "raw text"), "x = torch.ones(1)"))
    assert source == "# In[2]:\nimport torch\n\n# In[4]:\nx = torch.ones(1)\n"
    assert notes == []


def test_an_empty_notebook_gives_an_empty_module():
    source, notes = notebook_to_source(notebook())
    compile(source, "nb", "exec")
    assert code_of(source) == [] and notes == []


@pytest.mark.parametrize("line", [
    "%matplotlib inline",
    "!pip install x",
    "files = !ls",
    "self.out = !ls -l",
    "%time train()",
    "%load_ext autoreload",
])
def test_a_magic_or_shell_line_is_replaced_by_pass(line):
    source, notes = notebook_to_source(notebook(f"import torch\n{line}\nx = 1"))
    assert code_of(source)[0] == "import torch"
    assert code_of(source)[1].strip().startswith("pass")
    assert code_of(source)[2] == "x = 1"
    assert notes == ["1 IPython magic or shell (!) line(s) were ignored."]
    compile(source, "nb", "exec")


def test_magic_lines_inside_a_loop_keep_the_code_compilable():
    cell = "for epoch in range(3):\n    !echo hi\n    if epoch:\n        %time step()\n    y = 1"
    source, notes = notebook_to_source(notebook(cell))
    compile(source, "nb", "exec")
    lines = code_of(source)
    assert lines[1].startswith("    pass") and lines[3].startswith("        pass")
    assert notes == ["2 IPython magic or shell (!) line(s) were ignored."]


def test_tab_indentation_of_a_magic_line_is_kept():
    source, _ = notebook_to_source(notebook("while False:\n\t!echo hi\n\tif True:\n\t\t%pwd"))
    compile(source, "nb", "exec")
    assert code_of(source)[3].startswith("\t\tpass")


def test_a_cell_that_is_only_a_magic_still_compiles():
    source, _ = notebook_to_source(notebook("%matplotlib inline"))
    compile(source, "nb", "exec")


@pytest.mark.parametrize("line", ["x != y", "a %= 3", "b = a % 2", "print('!')", "s = '%d' % 3"])
def test_python_operators_are_not_mistaken_for_magics(line):
    source, notes = notebook_to_source(notebook(f"a = x = y = 1\n{line}"))
    assert code_of(source)[1] == line and notes == []


@pytest.mark.parametrize("magic", ["%%bash", "%%writefile helper.py", "  %%script sh", "%%html"])
def test_a_cell_starting_with_a_cell_magic_is_dropped(magic):
    source, notes = notebook_to_source(notebook("a = 1", f"{magic}\nrm -rf data\necho $(pwd)", "b = 2"))
    assert code_of(source) == ["a = 1", "b = 2"]
    assert notes == ["1 cell(s) starting with a cell magic (%%) were ignored."]


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 1", "%%capture out", "%%prun"])
def test_a_harmless_cell_magic_keeps_the_cell_code(magic):
    source, notes = notebook_to_source(notebook(f"{magic}\nfor i in range(2):\n    y = i"))
    assert code_of(source) == ["for i in range(2):", "    y = i"]
    assert notes == ["1 IPython magic or shell (!) line(s) were ignored."]
    compile(source, "nb", "exec")


def test_notes_count_both_dropped_lines_and_dropped_cells():
    _, notes = notebook_to_source(notebook("!ls\n%pwd", "%%bash\nls", "%%writefile x\ny"))
    assert notes == ["2 IPython magic or shell (!) line(s) were ignored.",
                     "2 cell(s) starting with a cell magic (%%) were ignored."]


@pytest.mark.parametrize("text", [
    "",
    "not json at all",
    "import torch\n",
    "[]",
    '"a string"',
    "null",
    "{}",
    json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}),
    json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3}),
    json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}),
    json.dumps({"nbformat": "four", "cells": []}),
], ids=["empty", "not-json", "python", "list", "string", "null", "empty-object", "no-cells",
        "cells-not-a-list", "cell-without-source", "bad-version"])
def test_an_invalid_notebook_raises_notebook_error(text):
    with pytest.raises(NotebookError, match="not a valid Jupyter notebook"):
        notebook_to_source(text)


# ----------------------------------------------------------------------------- known bugs
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="BUG: lines are matched one by one, so a continuation line starting with "
                          "'!=' or '%' is replaced by `pass` and the code no longer compiles")
@pytest.mark.parametrize("cell", [
    "loss = 1\nchanged = (loss\n           != 0)",
    "n = 7\nparity = (n\n          % 2)",
], ids=["not-equal", "modulo"])
def test_an_operator_at_the_start_of_a_continuation_line_is_kept(cell):
    source, notes = notebook_to_source(notebook(cell))
    assert code_of(source) == cell.splitlines() and notes == []


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="BUG: a line inside a triple-quoted string that starts with '%' or '!' "
                          "is rewritten to `pass ...`, silently changing the string")
def test_lines_inside_a_triple_quoted_string_are_not_touched():
    cell = 'TEMPLATE = """\n%d items\n!important\n"""'
    source, notes = notebook_to_source(notebook(cell))
    assert code_of(source) == cell.splitlines() and notes == []


@pytest.mark.xfail(strict=True, raises=SyntaxError,
                   reason="GAP: IPython help syntax (`obj?`, `?obj`) is left in and makes an otherwise "
                          "working notebook fail with a SyntaxError")
@pytest.mark.parametrize("line", ["torch.tensor?", "?torch.zeros", "torch.nn.Linear??"])
def test_a_help_line_does_not_break_the_submission(line):
    source, _ = notebook_to_source(notebook(f"import torch\n{line}\nx = 1"))
    compile(source, "nb", "exec")


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="BUG: IPython drops leading blank lines before looking for a cell magic; the "
                          "grader does not, so the cell's shell lines are kept as Python")
def test_a_cell_magic_after_leading_blank_lines_still_drops_the_cell():
    source, notes = notebook_to_source(notebook("a = 1", "\n%%bash\nls -l data"))
    assert code_of(source) == ["a = 1"]
    assert notes == ["1 cell(s) starting with a cell magic (%%) were ignored."]
