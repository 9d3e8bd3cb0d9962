"""Human-readable rendering of grading results for the terminal."""

from __future__ import annotations

from grader.engine import graph as graphs
from grader.engine.results import CheckResult, GradeResult

MARK = {True: "PASS", False: "FAIL"}


def format_grade(result: GradeResult, show_hidden: bool = True) -> str:
    head = f"{result.file} - {result.exercise}: {result.score:g}/{result.max_score:g} points"
    lines = [head + f" ({result.seconds:.2f} s)"]
    if result.error:
        lines.append(f"  Could not grade this file: {result.error}")
        return "\n".join(lines)
    for note in result.notes:
        lines.append(f"  Note: {note}")
    width = max((len(c.name) for c in result.checks), default=0)
    for check in result.checks:
        lines += _format_check(check, width, show_hidden)
    return "\n".join(lines)


def _format_check(check: CheckResult, width: int, show_hidden: bool) -> list[str]:
    status = "PASS" if check.passed else check.verdict.value.upper()
    lines = [f"  {status:<13} {check.name:<{width}}  {check.points:g}/{check.max_points:g}"]
    if check.passed:
        return lines
    if not check.visible and not show_hidden:
        return lines + ["      (hidden check)"]
    detail = "      "
    if check.description:
        lines.append(f"{detail}Checks: {check.description}")
    for line in check.message.splitlines():
        lines.append(f"{detail}{line}")
    if check.counterexample:
        shown = ", ".join(f"{k} = {v}" for k, v in check.counterexample.items())
        lines.append(f"{detail}Smallest failing input: {shown}")
    if check.expected is not None:
        lines.append(f"{detail}Expected: {check.expected}")
    if check.got is not None:
        lines.append(f"{detail}Got:      {check.got}")
    if check.hint:
        lines.append(f"{detail}Hint: {check.hint}")
    if check.output:
        lines.append(f"{detail}Your code printed:")
        lines += [f"{detail}  | {l}" for l in check.output.splitlines()[:20]]
    lines += _graph_lines(check, detail)
    return lines


def _graph_lines(check: CheckResult, detail: str) -> list[str]:
    """The student's autograd graph next to the expected one, for a gradient-flow check."""
    pair = check.graph if isinstance(check.graph, dict) else None
    if not pair or pair.get("student") is None:
        return []
    pair = {key: graphs.validate(pair.get(key)) for key in ("student", "expected")}
    if pair["student"] is None:
        return []
    return [f"{detail}{line}" for line in graphs.render_pair_text(pair).splitlines()]
