"""The gettext catalogues: ``grader/translations/<locale>/LC_MESSAGES/messages.po``.

The ``.po`` files in git are the source; each is compiled in memory the first time its
language is needed (Babel's own reader and ``.mo`` writer), so there is no compiled file
to forget to rebuild. ``pybabel extract -F babel.cfg`` writes ``messages.pot``;
``pybabel update`` merges it into the ``.po`` files.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from grader.i18n.locales import DEFAULT, LOCALES

DIRECTORY = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


def po_path(locale: str, directory: Path = DIRECTORY) -> Path:
    return directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str, directory: Path = DIRECTORY) -> Catalog:
    with po_path(locale, directory).open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


@functools.lru_cache(maxsize=None)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (English, unknown or missing: no translation)."""
    if locale == DEFAULT or locale not in LOCALES or not po_path(locale).is_file():
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(locale), use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
