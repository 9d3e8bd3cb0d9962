"""Human-readable rendering of grading results for the terminal."""

from __future__ import annotations

from grader.engine import graph as graphs
from grader.engine.results import CheckResult, GradeResult
from grader.i18n.locales import DEFAULT
from grader.i18n.localize import gettext, localize_result, render
from grader.i18n.text import N_, T

MARK = {True: "PASS", False: "FAIL"}


def format_grade(result: GradeResult, show_hidden: bool = True, locale: str = DEFAULT) -> str:
    """The report of one file in ``locale``; check names and verdict codes stay as they are."""
    if locale != DEFAULT:
        result = GradeResult.from_dict(localize_result(result.to_dict(), locale))

    def say(text: T) -> str:
        return render(text, locale)

    score, max_score, seconds = f"{result.score:g}", f"{result.max_score:g}", f"{result.seconds:.2f}"
    head = say(T("{file} - {exercise}: {score}/{max_score} points ({seconds} s)", file=result.file,
                 exercise=result.exercise, score=score, max_score=max_score, seconds=seconds))
    lines = [head]
    if result.error:
        lines.append("  " + say(T("Could not grade this file: {reason}", reason=result.error)))
        return "\n".join(lines)
    for note in result.notes:
        lines.append("  " + say(T("Note: {note}", note=note)))
    width = max((len(c.name) for c in result.checks), default=0)
    for check in result.checks:
        lines += _format_check(check, width, show_hidden, locale)
    return "\n".join(lines)


def _format_check(check: CheckResult, width: int, show_hidden: bool, locale: str) -> list[str]:
    status = "PASS" if check.passed else check.verdict.value.upper()
    lines = [f"  {status:<13} {check.name:<{width}}  {check.points:g}/{check.max_points:g}"]
    if check.passed:
        return lines
    label = lambda text: gettext(locale, text)  # noqa: E731
    if not check.visible and not show_hidden:
        return lines + ["      " + label(N_("(hidden check)"))]
    detail = "      "
    if check.description:
        lines.append(f"{detail}{label(N_('Checks'))}: {check.description}")
    for line in check.message.splitlines():
        lines.append(f"{detail}{line}")
    if check.counterexample:
        shown = ", ".join(f"{k} = {v}" for k, v in check.counterexample.items())
        lines.append(f"{detail}{label(N_('Smallest failing input'))}: {shown}")
    if check.expected is not None:
        lines.append(f"{detail}{label(N_('Expected'))}: {check.expected}")
    if check.got is not None:
        lines.append(f"{detail}{label(N_('Got'))}:{' ' * 6 if locale == DEFAULT else ' '}{check.got}")
    if check.hint:
        lines.append(f"{detail}{label(N_('Hint'))}: {check.hint}")
    if check.output:
        lines.append(f"{detail}{label(N_('Your code printed'))}:")
        lines += [f"{detail}  | {l}" for l in check.output.splitlines()[:20]]
    lines += _graph_lines(check, detail, locale)
    return lines


def _graph_lines(check: CheckResult, detail: str, locale: str = DEFAULT) -> list[str]:
    """The student's autograd graph next to the expected one, for a gradient-flow check (in
    ``locale``: headings, titles and the probe's labels and texts)."""
    pair = check.graph if isinstance(check.graph, dict) else None
    if not pair or pair.get("student") is None:
        return []
    pair = {key: graphs.validate(pair.get(key)) for key in ("student", "expected")}
    if pair["student"] is None:
        return []
    return [f"{detail}{line}" for line in graphs.render_pair_text(pair, locale).splitlines()]
