"""Notebooks: generating ``stub.ipynb`` from ``stub.py``, and reading submitted notebooks.

``stub.py`` uses jupytext's "percent" cell markers (``# %%`` for code, ``# %% [markdown]``
for text), so one file is the source of truth and the notebook is derived from it
deterministically (fixed cell ids), which lets ``grader check`` tell when it is stale.

nbformat is imported lazily: its schema validation costs ~1 s to import, which must stay
out of the fork server and out of the ``.py`` hot path.
"""

from __future__ import annotations

import re

from grader.i18n.text import T, TN

_CELL_MARKER = re.compile(r"^# %%(?P<rest>.*)$")


class NotebookError(ValueError):
    """The notebook cannot be read (not JSON, or not a valid nbformat v4 notebook)."""


def split_percent_cells(source: str) -> list[tuple[str, str]]:
    """``[(kind, text), ...]`` for a percent-format script; kind is "code" or "markdown"."""
    cells: list[tuple[str, list[str]]] = []
    kind, lines = "code", []
    for line in source.splitlines():
        match = _CELL_MARKER.match(line)
        if match:
            if any(l.strip() for l in lines):
                cells.append((kind, lines))
            kind = "markdown" if "[markdown]" in match.group("rest") else "code"
            lines = []
            continue
        if kind == "markdown":
            line = line[2:] if line.startswith("# ") else line.lstrip("#")
        lines.append(line)
    if any(l.strip() for l in lines):
        cells.append((kind, lines))
    return [(k, "\n".join(_trim_blank(ls))) for k, ls in cells]


def _trim_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def stub_to_notebook(source: str, title: str) -> str:
    """The notebook text for a percent-format stub; the same input always gives the same bytes."""
    import nbformat
    from nbformat import v4

    notebook = v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "torch_grader": {"generated_from": "stub.py", "title": title},
    }
    for index, (kind, text) in enumerate(split_percent_cells(source), start=1):
        cell = v4.new_markdown_cell(text) if kind == "markdown" else v4.new_code_cell(text)
        cell.id = f"cell-{index}"
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


# Submitted notebooks run with this first line: magics become harmless calls on it.
IPYTHON_SHIM = ("from grader.sandbox.driver_kit import no_ipython as get_ipython, display"
                "  # added by the grader: IPython magics and shell lines do nothing here\n")


def notebook_to_source(text: str) -> tuple[str, list[str]]:
    """The code of a submitted notebook as one module, and notes on what was neutralised.

    Cells go through IPython's own input transformer, exactly as Jupyter would run them, so
    magics, ``!shell`` lines and ``obj?`` help lines become ``get_ipython()`` calls (which the
    sandbox turns into no-ops; ``%time``/``%%time`` still run their code) while strings and
    continuation lines that merely start with ``%`` or ``!`` stay untouched.
    """
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # NotJSONError, ValidationError, KeyError on odd shapes ...
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(T("this is not a valid Jupyter notebook ({problem})", problem=first_line[:200])) from None
    manager = TransformerManager()
    parts, neutralised = [], 0
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        try:
            code = manager.transform_cell(cell.source)
        except SyntaxError:
            code = cell.source  # let the sandbox report it, with the student's line
        neutralised += code.count("get_ipython()") - cell.source.count("get_ipython()")
        parts.append(f"# In[{number}]:\n{code.rstrip()}")
    notes = []
    if neutralised:
        notes.append(TN("{n} IPython magic, shell (!) or help (?) line was not run.",
                        "{n} IPython magic, shell (!) or help (?) lines were not run.", neutralised))
    return IPYTHON_SHIM + "\n\n".join(parts) + "\n", notes
