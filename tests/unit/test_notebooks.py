"""grader.engine.notebooks: percent-format stubs to notebooks, and submitted notebooks to source."""

from __future__ import annotations

import json
import textwrap

import nbformat
import pytest
from nbformat import v4

from grader.engine.notebooks import (IPYTHON_SHIM, NotebookError, notebook_to_source, split_percent_cells,
                              stub_to_notebook)

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
    return [l for l in source.splitlines()
            if l.strip() and not l.startswith("# In[") and l != IPYTHON_SHIM.strip()]


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
def run(source: str) -> dict:
    """Execute a converted notebook as the sandbox would (the shim's import resolves here too)."""
    namespace: dict = {"__name__": "submission"}
    exec(compile(source, "nb.ipynb", "exec"), namespace)
    return namespace


def test_code_cells_are_concatenated_in_order_and_markdown_is_skipped():
    source, notes = notebook_to_source(notebook(
        ("markdown", "# Title\nimport os"), "import torch", ("raw", "raw text"), "x = torch.ones(1)"))
    assert source == IPYTHON_SHIM + "# In[2]:\nimport torch\n\n# In[4]:\nx = torch.ones(1)\n"
    assert notes == [] and "os" not in run(source)


def test_an_empty_notebook_gives_an_empty_module():
    source, notes = notebook_to_source(notebook())
    compile(source, "nb", "exec")
    assert code_of(source) == [] and notes == []


@pytest.mark.parametrize("line", [
    "%matplotlib inline", "!pip install torch", "x = !ls", "%load_ext autoreload",
    "files = %sx ls", "torch.tensor?", "?torch.zeros", "torch.nn.Linear??",
])
def test_magic_shell_and_help_lines_do_nothing_and_are_noted(line):
    source, notes = notebook_to_source(notebook(f"import torch\n{line}\ny = 2"))
    assert run(source)["y"] == 2
    assert notes == ["1 IPython magic, shell (!) or help (?) line was not run."]


def test_magic_lines_inside_a_loop_keep_the_code_compilable():
    source, _ = notebook_to_source(notebook("total = 0\nfor i in range(3):\n    %time total += i\n    !echo hi\n"))
    assert run(source)["total"] == 3  # %time runs its statement, as in IPython


@pytest.mark.parametrize("line", ["x != y", "a %= 3", "b = a % 2", "print('!')", "s = '%d' % 3"])
def test_python_operators_are_not_mistaken_for_magics(line):
    source, notes = notebook_to_source(notebook(f"x, y, a = 1, 2, 5\n{line}"))
    assert line in source and notes == []


@pytest.mark.parametrize("cell", ["x = (1\n     != 2)", "x = (7\n     % 4)"])
def test_an_operator_at_the_start_of_a_continuation_line_is_kept(cell):
    source, notes = notebook_to_source(notebook(cell))
    assert run(source)["x"] == eval(cell.split("=", 1)[1]) and notes == []


def test_lines_inside_a_triple_quoted_string_are_not_touched():
    cell = 's = """\n%not a magic\n!not a shell line\n"""'
    source, _ = notebook_to_source(notebook(cell))
    assert run(source)["s"] == "\n%not a magic\n!not a shell line\n"


@pytest.mark.parametrize("magic", ["%%bash", "%%writefile helper.py", "%%script sh", "%%html", "\n%%bash"])
def test_a_cell_starting_with_a_cell_magic_does_not_run_its_body(magic):
    source, notes = notebook_to_source(notebook(f"{magic}\nrm -rf /\nflag = True", "after = 1"))
    namespace = run(source)
    assert "flag" not in namespace and namespace["after"] == 1 and len(notes) == 1


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 1", "%%capture out", "%%prun"])
def test_a_timing_cell_magic_still_runs_the_cell_code(magic):
    source, _ = notebook_to_source(notebook(f"{magic}\nz = 3"))
    assert run(source)["z"] == 3


def test_display_prints_instead_of_failing(capsys):
    source, _ = notebook_to_source(notebook("display('loss curve')"))
    run(source)
    assert "loss curve" in capsys.readouterr().out


def test_notes_count_every_neutralised_line():
    _, notes = notebook_to_source(notebook("!ls\n%pwd", "%%bash\nls", "%%writefile x\ny"))
    assert notes == ["4 IPython magic, shell (!) or help (?) lines were not run."]


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


