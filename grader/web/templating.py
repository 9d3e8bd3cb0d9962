"""Template helpers: the statement's Markdown rendered safely, dates, verdict labels, the
student's autograd graph as SVG."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from markdown_it import MarkdownIt
from markupsafe import Markup

VERDICT_LABELS = {
    "passed": _l("passed"), "failed": _l("failed"), "error": _l("error"), "timeout": _l("timed out"),
    "memory": _l("out of memory"), "crashed": _l("crashed"), "invalid-reply": _l("invalid reply"),
}
# "failed" is a verdict, a run's status and a delivery's status: each has its own context.
STATUS_LABELS = {"queued": _l("queued"), "running": _l("grading"), "graded": _l("graded"),
                 "failed": lazy_pgettext("grading run status", "failed")}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "html": False escapes any raw HTML in the file; markdown-it also refuses javascript:
    # and data: links by default.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


@lru_cache(maxsize=128)
def render_markdown(text: str) -> Markup:
    """A statement as HTML. Cached: the same few statements are rendered on every view."""
    return Markup(_markdown().render(text or ""))


@lru_cache(maxsize=1024)
def render_inline_markdown(text: str) -> Markup:
    """One line of an author's Markdown (a summary, a hint): `code` and emphasis, no paragraph."""
    return Markup(_markdown().renderInline(text or ""))


def format_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def format_score(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:g}"


def graph_svg(data: object, title: str, ident: str) -> Markup:
    """A stored autograd graph (plain data) drawn as inline SVG at render time. The data is
    validated again (it came out of the sandbox, then out of the database) and every label is
    escaped by the renderer; anything invalid draws nothing. Drawn in the page's language."""
    from grader.engine import graph as graphs
    from grader.web.language import current_locale

    graph = graphs.validate(data)
    if graph is None:
        return Markup("")
    return Markup(graphs.render_svg(graph, title=str(title), ident=str(ident), locale=current_locale()))


def graph_cuts(data: object, notes: bool = False) -> list[dict[str, str]]:
    """The cuts of a stored graph as text, for the list under the drawing (escaped by Jinja);
    with ``notes``, the remarks about the whole call instead (no backward() at all). In the
    page's language."""
    from grader.engine import graph as graphs
    from grader.web.language import current_locale

    graph = graphs.validate(data)
    return graphs.cut_list(graph, notes=notes, locale=current_locale()) if graph is not None else []


def init_app(app: Flask) -> None:
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["inline_markdown"] = render_inline_markdown
    app.jinja_env.filters["when"] = format_time
    app.jinja_env.filters["score"] = format_score
    app.jinja_env.filters["graph_svg"] = graph_svg
    app.jinja_env.globals["graph_cuts"] = graph_cuts
    app.jinja_env.globals["verdict_label"] = lambda v: VERDICT_LABELS.get(v, v)
    app.jinja_env.globals["status_label"] = lambda s: STATUS_LABELS.get(s, s)
