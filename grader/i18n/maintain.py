"""Keeping the catalogues up to date: extract, merge, and say what is missing.

``extract`` runs Babel's extractor over the sources ``babel.cfg`` names, with the marker
keywords of :mod:`grader.i18n.text`; ``update`` merges the template into every ``.po``
(new messages arrive untranslated, changed ones fuzzy); ``problems`` lists what a
catalogue lacks: untranslated or fuzzy messages and translations whose placeholders differ
from the English source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

from grader.i18n.catalogs import DIRECTORY, po_path, read_catalog
from grader.i18n.locales import DEFAULT, LOCALES
from grader.i18n.text import placeholders

KEYWORDS = ("T", "TN:1,2", "N_", "_", "_l", "gettext", "ngettext:1,2", "lazy_gettext", "pgettext:1c,2",
            "lazy_pgettext:1c,2")


def template_path(directory: Path = DIRECTORY) -> Path:
    return directory / "messages.pot"


def extract(root: Path, directory: Path = DIRECTORY) -> Path:
    """Write ``messages.pot`` from the sources under ``root`` (the project checkout)."""
    args = ["pybabel", "-q", "extract", "-F", str(root / "babel.cfg"), "--no-location", "--sort-output",
            "--project", "torch-grader", "-o", str(template_path(directory))]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    CommandLineInterface().run(args + [str(root)])
    return template_path(directory)


def update(directory: Path = DIRECTORY) -> list[Path]:
    """Merge the template into every translated catalogue (creating a missing one)."""
    written = []
    for locale in LOCALES:
        if locale == DEFAULT:
            continue
        command = "update" if po_path(locale, directory).is_file() else "init"
        CommandLineInterface().run(["pybabel", "-q", command, "-i", str(template_path(directory)),
                                    "-d", str(directory), "-l", locale, "--no-wrap"]
                                   + (["--ignore-obsolete"] if command == "update" else []))
        written.append(po_path(locale, directory))
    return written


@dataclass(frozen=True)
class Problem:
    locale: str
    msgid: str
    kind: str  # "untranslated", "fuzzy", "placeholders"
    detail: str = ""


def problems(directory: Path = DIRECTORY, template: Path | None = None) -> list[Problem]:
    """What each catalogue lacks against the template (every id must be translated, with
    the same placeholders)."""
    from babel.messages.pofile import read_po

    with (template or template_path(directory)).open("rb") as handle:
        wanted = read_po(handle)
    found: list[Problem] = []
    for locale in LOCALES:
        if locale == DEFAULT:
            continue
        catalogue = read_catalog(locale, directory)
        for source in wanted:
            if not source.id:
                continue
            message = catalogue.get(source.id, context=source.context)
            ids = source.id if isinstance(source.id, tuple) else (source.id,)
            strings = message.string if message is not None else ()
            strings = strings if isinstance(strings, tuple) else (strings,)
            key = ids[0]
            if message is None or not all(strings):
                found.append(Problem(locale, key, "untranslated"))
            elif message.fuzzy:
                found.append(Problem(locale, key, "fuzzy"))
            else:
                expected = set().union(*(placeholders(i) for i in ids))
                for string in strings:
                    if placeholders(string) != expected:
                        found.append(Problem(locale, key, "placeholders",
                                             f"{sorted(placeholders(string))} instead of {sorted(expected)}"))
                        break
    return found
