"""Translatable text as data: a message id plus named parameters.

The id is the English source string with ``str.format`` placeholders (``{name}``; literal
braces doubled). Checks write ``T("{what} must be a leaf tensor.", what=name)``; the English
rendering is what :func:`str` gives, and :meth:`Text.to_json` is what is stored, so the
same result can later be rendered in another language. ``N_`` only marks a constant string
for extraction (it is looked up by its English text when shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import Formatter
from typing import Any, Mapping

# The keywords ``pybabel extract`` looks for (see babel.cfg / pyproject).
EXTRACT_KEYWORDS = {"T": None, "TN": (1, 2), "N_": None}


@dataclass(frozen=True)
class Text:
    id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None  # the English plural form; ``params["n"]`` chooses the form
    capitalize: bool = False  # upper-case the first letter of the rendering (a clause made a sentence)

    def __eq__(self, other: object) -> bool:
        """Equal to another Text with the same id and parameters, or to its English rendering
        (code and tests that compare a message with an English sentence keep working)."""
        if isinstance(other, str):
            return str(self) == other
        if isinstance(other, Text):
            return (self.id, dict(self.params), self.plural, self.capitalize) == \
                (other.id, dict(other.params), other.plural, other.capitalize)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __contains__(self, part: str) -> bool:
        return part in str(self)

    def __str__(self) -> str:
        return self.render(Text.english_pattern)

    def english_pattern(self) -> str:
        """The English pattern of this text (the plural one where ``n`` asks for it)."""
        if self.plural is None or plural_index_en(self.params.get("n", 0)) == 0:
            return self.id
        return self.plural

    def render(self, pattern_of) -> str:  # noqa: ANN001 - (Text) -> str
        """This text with ``pattern_of(text)`` as its pattern (the id translated); nested
        texts among the parameters are rendered the same way."""
        values = {key: value.render(pattern_of) if isinstance(value, Text) else value
                  for key, value in self.params.items()}
        pattern = pattern_of(self)
        try:
            rendered = pattern.format(**values)
        except (KeyError, IndexError, ValueError):
            # A translation with a broken placeholder must never lose the feedback.
            rendered = self.english_pattern().format(**values)
        return rendered[:1].upper() + rendered[1:] if self.capitalize else rendered

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.params:
            data["params"] = {key: value.to_json() if isinstance(value, Text) else _plain(value)
                              for key, value in self.params.items()}
        if self.plural is not None:
            data["plural"] = self.plural
        if self.capitalize:
            data["capitalize"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Text":
        params = {key: cls.from_json(value) if is_text_json(value) else value
                  for key, value in (data.get("params") or {}).items()}
        return cls(str(data["id"]), params, data.get("plural"), bool(data.get("capitalize")))


def T(msgid: str, **params: Any) -> Text:  # noqa: N802 - the gettext-style marker
    """A translatable message; the English ``msgid`` is also its id."""
    return Text(msgid, params)


def TN(singular: str, plural: str, n: int, **params: Any) -> Text:  # noqa: N802
    """A translatable message with plural forms chosen by ``n`` (also available as ``{n}``)."""
    return Text(singular, {"n": n, **params}, plural)


def N_(msgid: str) -> str:  # noqa: N802
    """Mark a constant English string for extraction; it is translated when shown."""
    return msgid


def as_sentence(clause: "str | Text") -> Text:
    """``clause`` as a sentence: capitalised, with a full stop unless it ends with one."""
    ends = str(clause).rstrip().endswith((".", "?", "!"))
    inner = clause if isinstance(clause, Text) else Text(clause)  # a constant is translated too
    return Text("{clause}" if ends else "{clause}.", {"clause": inner}, capitalize=True)


def english(value: Any) -> Any:
    """The English rendering of a text (other values unchanged)."""
    return str(value) if isinstance(value, Text) else value


def is_text_json(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and set(value) <= {"id", "params", "plural", "capitalize"}


def placeholders(pattern: str) -> set[str]:
    """The named fields of a ``str.format`` pattern (what a translation must keep)."""
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in Formatter().parse(pattern)
                if name is not None and name != ""}
    except ValueError:
        return {"<unbalanced braces>"}


def plural_index_en(n: Any) -> int:
    try:
        return 0 if int(n) == 1 else 1
    except (TypeError, ValueError):
        return 1


def _plain(value: Any) -> Any:
    """Stored as rendered: ``str`` of a tuple or a tensor is what the English text showed."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
