"""A Chinese and a Russian student in a real browser: the statement, a failing check with
its hint and counterexample, and the score, all in their language. The screenshots (CJK and
Cyrillic rendered by Chromium with Debian's Noto fonts) are kept under test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_browser import (SLUG, STUB, SUBMISSION_URL, TIMEOUT_MS, check_section, sqlite_only,  # noqa: F401
                          wait_until_graded)

from grader.engine.bank import Bank
from grader.i18n import localize
from grader.store import accounts

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def say(locale: str, english: str) -> str:
    translated = localize.gettext(locale, english)
    assert translated != english, f"{english!r} has no {locale} translation"
    return translated


def sign_in_by_form(page, base: str, account) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.fill("input[name=email]", account.email)
    page.fill("input[name=password]", account.password)
    with page.expect_navigation():
        page.locator("form button[type=submit]").first.click()
    assert "/login" not in page.url, page.inner_text("main")


def student_round(page, base: str, locale: str, script: re.Pattern, snap, prefix: str) -> None:  # noqa: ANN001
    title = Bank(ROOT).exercise(SLUG).title_in(locale)
    page.goto(f"{base}/")
    assert page.locator(".exercise-card", has_text=title).count() == 1
    page.get_by_role("link", name=title).click()
    page.wait_for_url(f"**/exercises/{SLUG}")
    snap(page, f"{prefix}-statement")
    assert page.locator("h1").first.inner_text() == title
    statement = page.locator(".statement").inner_text()
    assert len(script.findall(statement)) > 200 and "def fit(x, y, w0, b0, lr, steps)" in statement
    page.set_input_files("input[name=file]", str(STUB))
    with page.expect_navigation(url=SUBMISSION_URL):
        page.locator("form[enctype] button[type=submit]").click()
    wait_until_graded(page)
    snap(page, f"{prefix}-feedback")
    assert say(locale, "points") in page.locator("#score").inner_text()
    failing = check_section(page, "returns_leaf_parameters")  # check names stay identifiers
    text = failing.inner_text()
    assert say(locale, "Smallest failing input") in text and say(locale, "Got") in text
    assert script.search(failing.locator(".message").inner_text())
    assert script.search(failing.locator(".hint").inner_text())
    assert "requires_grad" in text or "grad_fn" in text, "PyTorch identifiers are not translated"
    assert failing.locator(".badge").inner_text() == say(locale, "failed")  # the web's verdict label


def test_a_chinese_student_reads_everything_in_chinese(live_service, browser, snap):  # noqa: ANN001
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"{live_service.url}/login")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        snap(page, "zh-login")
        sign_in_by_form(page, live_service.url, live_service.accounts["student"])
        student_round(page, live_service.url, "zh_Hans", CJK, snap, "zh")
    finally:
        context.close()


def test_a_russian_student_switches_the_language_and_reads_everything_in_russian(live_service, browser, snap):  # noqa: ANN001
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in_by_form(page, live_service.url, live_service.accounts["student"])
        assert page.locator("html").get_attribute("lang") == "en"
        with page.expect_navigation():
            page.get_by_role("button", name="Русский").click()
        assert page.locator("html").get_attribute("lang") == "ru"
        with live_service.db.reading() as session:
            assert accounts.user_by_email(session, live_service.accounts["student"].email).locale == "ru"
        student_round(page, live_service.url, "ru", CYRILLIC, snap, "ru")
    finally:
        context.close()


def test_an_instructor_reads_the_gradebook_and_the_analytics_in_chinese(live_service, browser, snap):  # noqa: ANN001
    from test_browser import stub_and_solution_graded

    _student, instructor = stub_and_solution_graded(live_service)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in_by_form(page, live_service.url, instructor)
        page.get_by_role("link", name=say("zh_Hans", "Gradebook")).click()
        page.wait_for_url("**/instructor/gradebook**")
        snap(page, "zh-gradebook")
        assert say("zh_Hans", "Gradebook") in page.locator("h1").first.inner_text()
        title = Bank(ROOT).exercise(SLUG).title_in("zh_Hans")
        assert title.upper() in page.locator("table.gradebook thead").inner_text().upper()  # CSS upper-cases it
        page.goto(f"{live_service.url}/instructor/exercises/{SLUG}?course=demo")
        snap(page, "zh-analytics")
        main = page.locator("main").inner_text()
        assert page.locator("h1").first.inner_text() == title
        hints = page.locator("table").last.inner_text()
        assert CJK.search(hints) and "in place" not in hints, "the hints the class was shown, in Chinese"
        assert len(CJK.findall(main)) > 40
    finally:
        context.close()
