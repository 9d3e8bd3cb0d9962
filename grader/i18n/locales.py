"""The supported languages and how a request, an LTI launch or the environment picks one.

Locale ids are Babel's: ``en``, ``zh_Hans`` (Simplified Chinese), ``ru``. Whatever a user
agent, a platform or ``LANG`` says (``zh-CN``, ``zh_CN.UTF-8``, ``ru-RU``, ``zh``) is
mapped onto one of them; Chinese in any script gets the Simplified catalogue.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Mapping

DEFAULT = "en"
LOCALES = ("en", "zh_Hans", "ru")
# What the language switch shows: each language in its own script.
NATIVE_NAMES = {"en": "English", "zh_Hans": "中文", "ru": "Русский"}
# Short names for command lines and file names: --lang zh, README.zh.md.
SHORT = {"en": "en", "zh_Hans": "zh", "ru": "ru"}


def normalize(tag: str | None) -> str | None:
    """The supported locale a language tag means, or None (``zh-CN`` -> ``zh_Hans``)."""
    if not tag:
        return None
    base = re.split(r"[-_.@]", tag.strip().lower(), maxsplit=1)[0]
    if base in ("zh", "cmn"):
        return "zh_Hans"
    if base in ("ru", "en"):
        return base
    return None


def from_tags(tags: Iterable[str | None]) -> str | None:
    """The first of ``tags`` that names a supported language."""
    for tag in tags:
        locale = normalize(tag)
        if locale:
            return locale
    return None


def from_accept_language(accept_languages) -> str | None:  # noqa: ANN001 - werkzeug LanguageAccept
    """The user agent's most preferred supported language (quality order)."""
    return from_tags(tag for tag, _quality in accept_languages)


def from_environment(env: Mapping[str, str] | None = None) -> str:
    """The language of a terminal session: ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, else English."""
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return normalize(value) or DEFAULT
    return DEFAULT


def short(locale: str) -> str:
    return SHORT.get(locale, locale)
