"""The catalogues and statements are complete in Chinese and Russian, and a stored text can
be rendered in any language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.i18n import catalogs, localize, maintain
from grader.i18n.locales import from_environment, normalize
from grader.i18n.statements import code_blocks, statement_problems
from grader.i18n.text import T, TN, Text, as_sentence, placeholders

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = sorted(p.parent for p in (ROOT / "exercises").glob("*/exercise.toml"))
CJK = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template extracted now from the sources (not the one in git, which may be stale)."""
    folder = tmp_path_factory.mktemp("catalogue")
    return maintain.extract(ROOT, folder)


def test_every_message_has_a_chinese_and_a_russian_translation_with_the_same_placeholders(fresh_template):
    problems = maintain.problems(template=fresh_template)
    assert problems == [], "\n".join(f"{p.locale} {p.kind}: {p.msgid!r} {p.detail}" for p in problems[:30])


def test_the_template_in_git_is_up_to_date(fresh_template):
    from babel.messages.pofile import read_po

    def ids(path: Path) -> set:
        with path.open("rb") as handle:
            return {(m.id, m.context) for m in read_po(handle) if m.id}

    assert ids(fresh_template) == ids(maintain.template_path()), "run: grader i18n extract && grader i18n update"


@pytest.mark.parametrize("folder", EXERCISES, ids=lambda p: p.name)
def test_every_statement_is_translated_with_identical_code_blocks(folder: Path):
    assert statement_problems(folder) == []
    for suffix, script in (("zh", CJK), ("ru", CYRILLIC)):
        text = (folder / f"README.{suffix}.md").read_text(encoding="utf-8")
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        assert len(script.findall(prose)) > 200, f"README.{suffix}.md is not written in its language"


def test_a_changed_code_block_is_reported(tmp_path: Path):
    folder = tmp_path / "ex"
    folder.mkdir()
    (folder / "README.md").write_text("# T\n\ntext\n\n```python\nx = 1\n```\n")
    (folder / "README.zh.md").write_text("# 标题\n\n文字\n\n```python\nx = 2\n```\n")
    problems = statement_problems(folder)
    assert "README.zh.md: code block(s) 1 differ from README.md's" in problems
    assert "README.ru.md is missing (the statement in ru)" in problems
    assert code_blocks("a\n```\nb\n```\n") == ["```\nb\n```"]


def test_a_text_renders_in_each_language_and_survives_json():
    text = T("{what} must be a tensor.", what="w")
    assert str(text) == "w must be a tensor." and text == "w must be a tensor."
    again = Text.from_json(text.to_json())
    assert again == text
    zh, ru = localize.render(again.to_json(), "zh_Hans"), localize.render(again, "ru")
    assert "w" in zh and CJK.search(zh) and "w" in ru and CYRILLIC.search(ru)


def test_russian_plural_forms_follow_the_number():
    note = lambda n: TN("{n} IPython magic, shell (!) or help (?) line was not run.",  # noqa: E731
                        "{n} IPython magic, shell (!) or help (?) lines were not run.", n)
    assert str(note(1)).startswith("1 IPython magic") and "line was" in str(note(1)) and "lines were" in str(note(5))
    forms = {n: localize.render(note(n), "ru") for n in (1, 2, 5, 21)}
    assert all(str(n) in forms[n] for n in forms)
    assert forms[1] != forms[2] != forms[5] and forms[21].replace("21", "1") == forms[1]


def test_a_sentence_made_from_a_clause_is_capitalised_in_every_language():
    sentence = as_sentence(T("the file is larger than {size} KiB", size=1024))
    assert str(sentence) == "The file is larger than 1024 KiB."
    assert localize.render(sentence, "ru")[:1].isupper()


def test_a_sentence_rendered_in_the_sandbox_is_recognised_by_its_template():
    """The exercise drivers' sentences leave the sandbox as plain English strings."""
    templates = [key for key in catalogs.translations("ru")._catalog if isinstance(key, str) and "{" in key]
    template = next(t for t in templates if "{kind}" in t or "{type_name}" in t or "returned" in t)
    names = {name: f"VALUE{i}" for i, name in enumerate(sorted(placeholders(template)))}
    sentence = template.format(**names)
    translated = localize.gettext("ru", sentence)
    assert translated != sentence and all(value in translated for value in names.values())


def test_a_broken_translation_never_loses_the_feedback():
    text = Text("{what} is wrong.", {"what": "w"})
    assert text.render(lambda _t: "{missing} 错") == "w is wrong."


def test_language_tags_map_onto_the_supported_locales():
    assert [normalize(t) for t in ("zh-CN", "zh_TW", "zh-Hans", "ru-RU", "en-GB", "fr", "", None)] == \
        ["zh_Hans", "zh_Hans", "zh_Hans", "ru", "en", None, None, None]
    assert from_environment({"LANG": "ru_RU.UTF-8"}) == "ru"
    assert from_environment({"LC_ALL": "zh_CN.UTF-8", "LANG": "ru_RU.UTF-8"}) == "zh_Hans"
    assert from_environment({"LANG": "C.UTF-8"}) == "en" and from_environment({}) == "en"


@pytest.mark.parametrize("locale, term, rendering", [
    ("zh_Hans", "leaf tensor", "叶子张量"), ("ru", "leaf tensor", "листов"),
    ("zh_Hans", "in place", "原地"), ("ru", "graph", "граф"), ("zh_Hans", "graph", "图"),
])
def test_the_catalogues_follow_their_glossary(locale: str, term: str, rendering: str):
    glossary = (ROOT / "docs" / f"glossary.{'zh' if locale == 'zh_Hans' else 'ru'}.md").read_text(encoding="utf-8")
    assert rendering in glossary
    catalogue = catalogs.read_catalog(locale)
    using = [m for m in catalogue if isinstance(m.id, str) and m.id and term in m.id.lower() and m.string]
    assert using, f"no message mentions {term!r}"
    assert all(rendering in m.string.lower() for m in using), [m.string for m in using if rendering not in m.string.lower()]


def test_pytorch_identifiers_stay_untranslated():
    for locale in ("zh_Hans", "ru"):
        for message in catalogs.read_catalog(locale):
            if isinstance(message.id, str) and message.id and message.string:
                for code in re.findall(r"`[^`]+`", message.id):
                    assert code in message.string, (locale, message.id, message.string)
