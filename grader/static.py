"""Static checks on the submitted source, run in the trusted process (the source is parsed,
never executed here).

An exercise may forbid APIs, e.g. ``torch.optim`` where the point is to write the update by
hand. Names are matched through imports and aliases (``import torch.optim as o``,
``from torch import optim``, ``from torch.optim import SGD``), attribute chains
(``torch.optim.SGD``) and string lookups (``getattr(torch, "optim")``,
``importlib.import_module("torch.optim")``). It is a deterrent, not a proof: the sandbox and
the behavioural checks still apply.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    api: str
    line: int
    text: str


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

    def hit(dotted: str, node: ast.AST) -> None:
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
                dotted = f"{node.module}.{alias.name}"
                hit(dotted, node)
                aliases[alias.asname or alias.name] = dotted
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            hit(node.value, node)
            for api in forbidden:
                if node.value == api.rsplit(".", 1)[-1] and _inside_dynamic_lookup(tree, node):
                    hit(api, node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node, aliases)
            if dotted:
                hit(dotted, node)
        elif isinstance(node, ast.Name) and node.id in aliases:
            hit(aliases[node.id], node)
    unique = {(f.api, f.line): f for f in findings}
    return sorted(unique.values(), key=lambda f: f.line)


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _inside_dynamic_lookup(tree: ast.AST, target: ast.Constant) -> bool:
    """Is this string an argument of getattr(...)/import_module(...)/__import__(...)?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and target in node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in {"getattr", "import_module", "__import__"}:
                return True
    return False
