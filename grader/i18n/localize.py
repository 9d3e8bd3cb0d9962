"""Rendering at the edge: a text, a stored check or a whole stored result in one language.

A stored result keeps the English text of every field and, for texts with parameters, the
message id and parameters under ``i18n``. A field without an ``i18n`` entry is a constant
and is looked up by its English text. Check names, verdict codes, numbers, counterexamples
and expected/got values are data and stay as they are.
"""

from __future__ import annotations

import copy
import functools
import re
from string import Formatter
from typing import Any

from grader.i18n.catalogs import translations
from grader.i18n.locales import DEFAULT
from grader.i18n.text import Text, is_text_json

CHECK_FIELDS = ("message", "description", "hint")

def gettext(locale: str, message: str) -> str:
    """``message`` (an English constant) in ``locale``; itself where there is no translation.

    A sentence rendered from a template where no Text was kept (the exercise drivers' own
    sentences, which leave the sandbox as plain strings) is recognised by its template."""
    if not message or locale == DEFAULT:
        return message
    catalogue = translations(locale)
    translated = catalogue.gettext(message)
    if translated != message:
        return translated
    return _from_template(locale, message) or message


MAX_MATCHED = 1000  # longer plain strings are shown as they are (matching is superlinear)


def _from_template(locale: str, message: str) -> str | None:
    if len(message) > MAX_MATCHED:
        return None
    found = _match_template(locale, message)
    if found is None and message.endswith(".") and not message.endswith(".."):
        # The runner ends a driver's sentence with a full stop when it has none.
        found = _match_template(locale, message[:-1])
        if found is not None and not found.endswith((".", "。", "!", "?")):
            found += "。" if locale == "zh_Hans" else "."
    return found


def _match_template(locale: str, message: str) -> str | None:
    catalogue = translations(locale)
    for template, literals, pattern in _templates(locale):
        if not all(literal in message for literal in literals):
            continue  # cheap: most templates share no text with the message
        found = pattern.fullmatch(message)
        if found:
            translated = catalogue.gettext(template)
            if translated == template:
                return None
            # A captured value that is itself a marked constant or a rendered template (a label:
            # "sub() under torch.no_grad()") is translated too.
            return "".join(literal + (_captured(locale, found.group(name), message) if name else "")
                           for literal, name in _fields(translated))
    return None


def _captured(locale: str, value: str, message: str) -> str:
    translated = translations(locale).gettext(value)
    if translated != value or len(value) >= len(message):
        return translated
    return _match_template(locale, value) or value


def _fields(pattern: str) -> list[tuple[str, str | None]]:
    try:
        return [(literal, name.split(".")[0].split("[")[0] if name else None)
                for literal, name, _spec, _conv in Formatter().parse(pattern)]
    except ValueError:
        return [(pattern, None)]


@functools.lru_cache(maxsize=None)
def _templates(locale: str) -> tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...]:
    """Every message id of ``locale``'s catalogue with placeholders: the id, its literal
    pieces and a regular expression that matches what it renders to."""
    catalogue = translations(locale)
    ids = getattr(catalogue, "_catalog", {})
    found = []
    for key in ids:
        if not isinstance(key, str) or "{" not in key:
            continue
        if len(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", key))) < 2:
            # Fewer than two words of its own ("{name} {where}", "loss {index}"): it would
            # match text that merely starts with a word.
            continue
        regex, seen = "", set()
        for literal, name in _fields(key):
            regex += re.escape(literal)
            if name and name in seen:
                regex += f"(?P={name})"
            elif name and name.isidentifier():
                regex += f"(?P<{name}>.+?)"
                seen.add(name)
        if seen:
            literals = tuple(literal for literal, _name in _fields(key) if literal.strip())
            found.append((key, literals, re.compile(regex, re.S)))
    # The most specific template first: the longest literal text.
    found.sort(key=lambda item: -len(re.sub(r"\{[^}]*\}", "", item[0])))
    return tuple(found)


def render(value: Any, locale: str) -> Any:
    """A :class:`Text` (or its JSON) rendered in ``locale``; a plain string is looked up as
    an English constant; anything else is returned unchanged."""
    if is_text_json(value):
        value = Text.from_json(value)
    if isinstance(value, Text):
        if locale == DEFAULT:
            return str(value)
        catalogue = translations(locale)
        return value.render(lambda text: catalogue.gettext(text.id) if text.plural is None
                            else catalogue.ngettext(text.id, text.plural, _count(text)))
    if isinstance(value, str):
        return gettext(locale, value)
    return value


def localize_check(check: dict[str, Any], locale: str) -> dict[str, Any]:
    """A copy of a stored check with its texts in ``locale`` (``i18n`` dropped)."""
    out = {key: value for key, value in check.items() if key != "i18n"}
    if locale == DEFAULT:
        return out
    texts = check.get("i18n") or {}
    for field in CHECK_FIELDS:
        if out.get(field):
            out[field] = render(texts.get(field, out[field]), locale)
    if isinstance(out.get("graph"), dict):
        out["graph"] = _localize_graph(out["graph"], locale)
    return out


def localize_result(result: dict[str, Any], locale: str) -> dict[str, Any]:
    """A copy of a stored result (``GradeResult.to_dict``) with every text in ``locale``."""
    out = {key: value for key, value in result.items() if key != "i18n"}
    out["checks"] = [localize_check(c, locale) for c in result.get("checks") or []]
    if locale == DEFAULT:
        return out
    texts = result.get("i18n") or {}
    if out.get("error"):
        out["error"] = render(texts.get("error", out["error"]), locale)
    note_texts = texts.get("notes") or []
    out["notes"] = [render(note_texts[i] if i < len(note_texts) and note_texts[i] else note, locale)
                    for i, note in enumerate(out.get("notes") or [])]
    return out


# What the graph probe calls the root when no backward() ran (a label, not a tensor's name).
NO_ROOT = "no backward() call"


def _localize_graph(pair: dict[str, Any], locale: str) -> dict[str, Any]:
    """The cut explanations and node labels the graph probe wrote are sentences of the probe,
    rendered from its templates (plain strings out of the sandbox): look them up. Names,
    operator names (MulBackward0) and shapes are data and stay. A translation longer than the
    schema's caps is shortened, so the graph still validates."""
    from grader.engine.graph.schema import MAX_LABEL, MAX_TEXT

    pair = copy.deepcopy(pair)
    for graph in pair.values():
        if not isinstance(graph, dict):
            continue
        for cut in graph.get("cuts") or []:
            if isinstance(cut, dict) and isinstance(cut.get("text"), str):
                cut["text"] = _within(gettext(locale, cut["text"]), MAX_TEXT)
        for node in graph.get("nodes") or []:
            if isinstance(node, dict) and isinstance(node.get("label"), str):
                node["label"] = _within(graph_label(locale, node["label"]), MAX_LABEL)
        root = graph.get("root")
        if isinstance(root, dict) and root.get("label") == NO_ROOT:
            root["label"] = _within(gettext(locale, NO_ROOT), MAX_LABEL)
    return pair


def graph_label(locale: str, label: str) -> str:
    """A node label of a graph in ``locale``: an operator name (``MulBackward0``) stays, a
    phrase of the probe (``leaf made in fit()``) is translated."""
    if not label or locale == DEFAULT:
        return label
    if label.isidentifier():  # a grad_fn's class name, or a one-word constant ("parameter")
        return translations(locale).gettext(label)
    return gettext(locale, label)


def _within(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _count(text: Text) -> int:
    try:
        return int(text.params.get("n", 0))
    except (TypeError, ValueError):
        return 0
