"""The translated statements: ``README.zh.md`` and ``README.ru.md`` beside every ``README.md``.

Prose is translated; every fenced code block must be byte-for-byte the English one, in the
same order (code is code). ``grader check`` reports what :func:`statement_problems` finds.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.i18n.catalogs import translations
from grader.i18n.locales import DEFAULT, LOCALES, short

FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)


def code_blocks(markdown: str) -> list[str]:
    return [match.group(0) for match in FENCE.finditer(markdown)]


def statement_problems(folder: Path) -> list[str]:
    """What is missing or wrong in the translations of the statement in ``folder``."""
    english = folder / "README.md"
    if not english.is_file():
        return []
    blocks = code_blocks(english.read_text(encoding="utf-8"))
    problems = []
    for locale in LOCALES:
        if locale == DEFAULT:
            continue
        path = folder / f"README.{short(locale)}.md"
        if not path.is_file():
            problems.append(f"{path.name} is missing (the statement in {locale})")
            continue
        text = path.read_text(encoding="utf-8")
        theirs = code_blocks(text)
        if len(theirs) != len(blocks):
            problems.append(f"{path.name} has {len(theirs)} code block(s), README.md has {len(blocks)}")
        else:
            differing = [str(i + 1) for i, (a, b) in enumerate(zip(blocks, theirs)) if a != b]
            if differing:
                problems.append(f"{path.name}: code block(s) {', '.join(differing)} differ from README.md's")
        if not text.lstrip().startswith("# "):
            problems.append(f"{path.name} does not start with the translated title (# ...)")
    return problems


def feedback_problems(texts: list[str]) -> list[str]:
    """Constant feedback texts (check descriptions, hints) without a translation."""
    problems = []
    for locale in LOCALES:
        if locale == DEFAULT:
            continue
        catalogue = translations(locale)
        missing = [t for t in texts if t and catalogue.gettext(t) == t]
        if missing:
            problems.append(f"{len(missing)} check text(s) have no {locale} translation, e.g. {missing[0][:60]!r} "
                            "(grader i18n extract, then translate the catalogue)")
    return problems
