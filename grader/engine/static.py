"""Static checks on the submitted source, run in the trusted process (the source is parsed,
never executed here).

An exercise may forbid APIs, e.g. ``torch.optim`` where the point is to write the update by
hand. An entry that starts with a dot (``.backward``, ``.requires_grad_``) forbids a method
or attribute of that name on any object. Names are matched through imports and aliases (``import torch.optim as o``,
``from torch import optim``, ``from torch.optim import SGD``), attribute chains
(``torch.optim.SGD``) and string lookups (``getattr(torch, "optim")``,
``importlib.import_module("torch.optim")``). It is a deterrent, not a proof: the sandbox and
the behavioural checks still apply.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    api: str
    line: int
    text: str


_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_IMPORTERS = {"__import__", "import_module"}


def find_forbidden(source: str, forbidden: list[str]) -> list[Finding]:
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the sandbox reports syntax errors with the student's line numbers
    lines = source.splitlines()
    aliases: dict[str, str] = {}  # local name -> dotted name it stands for
    findings: list[Finding] = []

    members = {api[1:] for api in forbidden if api.startswith(".")}
    forbidden = [api for api in forbidden if not api.startswith(".")]

    def hit(dotted: str | None, node: ast.AST, member: str | None = None) -> None:
        if member is not None and member in members:
            line = getattr(node, "lineno", 0)
            text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            findings.append(Finding(api=f".{member}", line=line, text=text))
            return
        if not dotted:
            return
        for api in forbidden:
            if dotted == api or dotted.startswith(api + "."):
                line = getattr(node, "lineno", 0)
                text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                findings.append(Finding(api=api, line=line, text=text))
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                hit(alias.name, node)
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if alias.name == "*":  # from torch import * brings torch.optim in as `optim`
                    for api in forbidden:
                        if api.startswith(node.module + "."):
                            name = api[len(node.module) + 1:].split(".")[0]
                            aliases[name] = f"{node.module}.{name}"
                    continue
                dotted = f"{node.module}.{alias.name}"
                hit(dotted, node)
                aliases[alias.asname or alias.name] = dotted
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            hit(_dotted(node, aliases), node, member=node.attr)
        elif isinstance(node, ast.Name) and node.id in aliases:
            hit(aliases[node.id], node)
        elif isinstance(node, ast.Call):
            hit(_dynamic_lookup(node, aliases), node)
            if (_callee(node) == "getattr" and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                hit(None, node, member=node.args[1].value)
    unique = {(f.api, f.line): f for f in findings}
    return sorted(unique.values(), key=lambda f: f.line)


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``torch.optim.SGD`` -> "torch.optim.SGD", through aliases and dynamic imports."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    elif isinstance(node, ast.Call) and _callee(node) in _IMPORTERS and _first_string(node):
        parts.append(_first_string(node))
    else:
        return None
    return ".".join(reversed(parts))


def _dynamic_lookup(call: ast.Call, aliases: dict[str, str]) -> str | None:
    """``getattr(torch, "optim")``, ``importlib.import_module("torch.optim")``, ``__import__(...)``."""
    name = _callee(call)
    if name in _IMPORTERS:
        return _first_string(call)
    if name == "getattr" and len(call.args) >= 2:
        attribute = call.args[1]
        base = _dotted(call.args[0], aliases)
        if base and isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
            return f"{base}.{attribute.value}"
    return None


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _first_string(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        value = call.args[0].value
        return value if _DOTTED_NAME.match(value) else None
    return None
