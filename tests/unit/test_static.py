"""grader.engine.static.find_forbidden: forbidden APIs found through imports, aliases and lookups."""

from __future__ import annotations

import textwrap

import pytest

from grader.engine.static import Finding, find_forbidden

OPTIM = ["torch.optim"]


def findings(source: str, forbidden=OPTIM) -> list[Finding]:
    return find_forbidden(textwrap.dedent(source), forbidden)


CAUGHT = {
    "import torch.optim": ("import torch.optim\n", 1),
    "import torch.optim as o": ("import torch.optim as o\n", 1),
    "import a submodule": ("import torch.optim.lr_scheduler\n", 1),
    "from torch import optim": ("from torch import optim\n", 1),
    "from torch import optim as o": ("from torch import optim as o\n", 1),
    "from torch.optim import SGD": ("from torch.optim import SGD\n", 1),
    "torch.optim.SGD(...)": ("import torch\n\nopt = torch.optim.SGD(params, lr=0.1)\n", 3),
    "alias of torch": ("import torch as t\nx = 1\nopt = t.optim.Adam(params)\n", 3),
    "getattr(torch, 'optim')": ("import torch\nopt_mod = getattr(torch, 'optim')\n", 2),
    "importlib.import_module": ("import importlib\nm = importlib.import_module('torch.optim')\n", 2),
    "from importlib import import_module": (
        "from importlib import import_module\nm = import_module('torch.optim')\n", 2),
    "__import__": ("m = __import__('torch.optim')\n", 1),
    "inside a function": ("def train():\n    import torch\n    return torch.optim.SGD\n", 3),
}


@pytest.mark.parametrize("source, line", CAUGHT.values(), ids=CAUGHT.keys())
def test_forbidden_api_is_found_with_its_line(source, line):
    found = findings(source)
    assert found, f"missed: {source!r}"
    assert found[0].api == "torch.optim"
    assert found[0].line == line
    assert found[0].text == source.splitlines()[line - 1].strip()


def test_uses_of_a_name_imported_from_the_forbidden_module_are_each_reported():
    found = findings("""\
        from torch.optim import SGD

        def make(params):
            return SGD(params, lr=0.1)
        """)
    assert [f.line for f in found] == [1, 4]
    assert found[1].text == "return SGD(params, lr=0.1)"


def test_an_aliased_module_is_reported_where_it_is_used():
    found = findings("""\
        import torch.optim as o
        x = 1
        opt = o.SGD([], lr=1)
        """)
    assert [f.line for f in found] == [1, 3]


def test_one_line_with_several_hits_is_reported_once_per_api():
    found = findings("import torch\nopt = torch.optim.SGD(torch.optim.Adam, torch.optim)\n")
    assert len(found) == 1 and found[0].line == 2


def test_findings_are_sorted_by_line():
    found = findings("import torch\nb = torch.optim.Adam\na = torch.optim.SGD\nimport torch.optim\n")
    assert [f.line for f in found] == [2, 3, 4]


def test_several_forbidden_apis_are_reported_separately():
    found = findings("import torch\nx = torch.optim.SGD\ny = torch.autograd.grad\n",
                     ["torch.optim", "torch.autograd.grad"])
    assert {(f.api, f.line) for f in found} == {("torch.optim", 2), ("torch.autograd.grad", 3)}


def test_a_forbidden_function_is_matched_through_getattr_on_its_module():
    found = findings("import torch\ng = getattr(torch.autograd, 'grad')\n", ["torch.autograd.grad"])
    assert [f.line for f in found] == [2]


def test_a_string_naming_the_api_is_reported_only_where_it_is_imported():
    assert findings("name = 'torch.optim'\n") == []
    assert [f.line for f in findings("import importlib\nm = importlib.import_module('torch.optim')\n")] == [2]


ALLOWED = {
    "torch.nn.Linear": "import torch\nlayer = torch.nn.Linear(2, 3)\n",
    "from torch import nn": "from torch import nn\nlayer = nn.Linear(2, 3)\n",
    "a variable named optim_steps": "optim_steps = 3\nfor _ in range(optim_steps):\n    pass\n",
    "an attribute named optimizer": "import torch\nx = torch.optimizer\n",
    "a module whose name starts like the api": "import torch.optimize\n",
    "a comment": "import torch\n# torch.optim.SGD would make this trivial\nx = 1\n",
    "a docstring mentioning optimizers": '"""Write the update by hand instead of using torch.optim.SGD."""\n',
    "a string with other text": 'print("do not use torch.optim here")\n',
    "a function docstring": 'def step(w):\n    """No torch.optim: w -= lr * w.grad."""\n',
    "getattr of another name": "import torch\nf = getattr(torch, 'nn')\n",
    "no forbidden list": None,
}


@pytest.mark.parametrize("source", ALLOWED.values(), ids=ALLOWED.keys())
def test_no_false_positive(source):
    if source is None:
        assert find_forbidden("import torch.optim\n", []) == []
    else:
        assert findings(source) == []


def test_a_file_with_a_syntax_error_reports_nothing():
    assert findings("import torch.optim\ndef broken(:\n") == []


def test_an_empty_file_reports_nothing():
    assert findings("") == []


def test_a_docstring_that_starts_with_the_api_name_is_not_reported():
    assert findings('"""torch.optim.SGD would be easier, but write the update by hand."""\n') == []


@pytest.mark.parametrize("source", [
    "opt = __import__('torch').optim.SGD\n",
    "import importlib\nopt = importlib.import_module('torch').optim.SGD\n",
], ids=["__import__", "import_module"])
def test_an_attribute_of_a_dynamically_imported_module_is_reported(source):
    assert findings(source)


# ----------------------------------------------------------------------------- forbidden methods
@pytest.mark.parametrize("source", [
    "loss.backward()\n",
    "(x * 2).sum().backward()\n",
    "step = getattr(loss, 'backward')\nstep()\n",
    "w.requires_grad_()\n",
])
def test_a_forbidden_method_is_reported_on_any_object(source):
    found = find_forbidden(source, [".backward", ".requires_grad_"])
    assert [f.line for f in found] == [1]
    assert found[0].api in {".backward", ".requires_grad_"}


def test_a_forbidden_method_name_does_not_match_longer_names():
    assert find_forbidden("x.backward_hook = 1\ny = x.backwards\n", [".backward"]) == []
