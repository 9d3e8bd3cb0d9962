"""Choosing the language: profile, LTI launch locale, Accept-Language, ?lang= (API); a
stored grade is shown in any language without grading it again."""

from __future__ import annotations

import io
import re

import pytest
from service_fixtures import csrf_token, login, make_token
from sqlalchemy import func, select

from grader.i18n import localize
from grader.store import accounts
from grader.store.models import GradingRun, User
from grader.queue.worker import Worker

SLUG = "none-grad-after-rebinding"
CJK = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def graded_stub(client, db, bank, sandbox, service_config, token: str) -> dict:  # noqa: ANN001
    response = client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                           data={"exercise": SLUG, "file": (io.BytesIO(bank.exercise(SLUG).stub_path.read_bytes()),
                                                            "stub.py")})
    assert response.status_code == 202, response.text
    worker = Worker(service_config, db, bank, sandbox)
    while worker.run_once():
        pass
    return response.get_json()


def heading(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)


def test_pages_follow_accept_language_and_say_their_language(client, demo):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in page.text and localize.gettext("zh_Hans", "Sign in") in page.text
    page = client.get("/login", headers={"Accept-Language": "fr-FR, ru;q=0.8"})
    assert '<html lang="ru">' in page.text and CYRILLIC.search(heading(page.text))
    page = client.get("/login", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="en">' in page.text and "Sign in" in page.text


def test_every_page_has_the_language_switch_and_it_is_saved_in_the_profile(client, db, demo):
    login(client, demo["student"])
    page = client.get("/")
    for name in ("English", "中文", "Русский"):
        assert f">{name}</button>" in page.text
    answer = client.post("/language", data={"locale": "ru", "csrf_token": csrf_token(page.text)},
                         headers={"Referer": f"http://localhost/exercises/{SLUG}"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/exercises/{SLUG}"
    with db.reading() as session:
        assert accounts.user_by_email(session, demo["student"].email).locale == "ru"
    statement = client.get(f"/exercises/{SLUG}", headers={"Accept-Language": "zh-CN"})
    assert heading(statement.text) == bank_title(SLUG, "ru"), "the profile wins over the browser"


def bank_title(slug: str, locale: str) -> str:
    from grader.engine.bank import Bank
    from pathlib import Path

    return Bank(Path(__file__).resolve().parents[2]).exercise(slug).title_in(locale)


def test_a_choice_made_before_signing_in_survives_the_sign_in(client, demo):
    page = client.get("/login")
    client.post("/language", data={"locale": "zh_Hans", "csrf_token": csrf_token(page.text)})
    login(client, demo["student"])
    assert '<html lang="zh-Hans">' in client.get("/").text


def test_the_switch_refuses_an_unknown_language_and_a_foreign_referer(client, demo):
    page = client.get("/login")
    token = csrf_token(page.text)
    assert client.post("/language", data={"locale": "xx", "csrf_token": token}).status_code == 400
    away = client.post("/language", data={"locale": "ru", "csrf_token": token},
                       headers={"Referer": "https://evil.example/phish"})
    assert away.status_code == 303 and away.headers["Location"] == "/"


def test_the_statement_and_titles_are_in_the_page_language(client, demo):
    login(client, demo["student"])
    for locale, tag in (("zh_Hans", "zh-CN"), ("ru", "ru")):
        listing = client.get("/", headers={"Accept-Language": tag}).text
        assert bank_title(SLUG, locale) in listing
        page = client.get(f"/exercises/{SLUG}", headers={"Accept-Language": tag}).text
        assert heading(page) == bank_title(SLUG, locale) != bank_title(SLUG, "en")
        assert "def fit(x, y, w0, b0, lr, steps)" in page, "code blocks are the English ones"


def test_an_lti_launch_locale_chooses_the_language_when_the_profile_has_none(httpserver, db, app, client):
    from fake_platform import FakePlatform

    platform = FakePlatform(httpserver)
    platform.register(db)
    launch = platform.launch(client, sub="stu-ru", custom={"exercise": SLUG},
                             tamper=lambda claims: claims.update({CLAIM + "launch_presentation":
                                                                  {"locale": "ru-RU", "document_target": "window"}}))
    assert launch.response.status_code == 302, launch.response.text
    page = client.get(f"/exercises/{SLUG}", headers={"Accept-Language": "en"})
    assert '<html lang="ru">' in page.text and heading(page.text) == bank_title(SLUG, "ru")


def test_the_api_renders_feedback_in_the_asked_language_with_english_identifiers(client, db, demo, bank, sandbox,
                                                                               service_config):
    token = make_token(db, demo["student"].email)
    accepted = graded_stub(client, db, bank, sandbox, service_config, token)
    auth = {"Authorization": f"Bearer {token}"}
    english = client.get(accepted["url"], headers=auth).get_json()
    russian = client.get(accepted["url"] + "?lang=ru", headers=auth).get_json()
    chinese = client.get(accepted["url"], headers={**auth, "Accept-Language": "zh-CN"}).get_json()
    for body in (russian, chinese):
        assert [(c["name"], c["verdict"], c["points"]) for c in body["checks"]] == \
            [(c["name"], c["verdict"], c["points"]) for c in english["checks"]]
        assert body["score"] == english["score"] and body["exercise"] == SLUG
    for body, script in ((russian, CYRILLIC), (chinese, CJK)):
        failed = [c for c in body["checks"] if c["verdict"] != "passed"]
        assert failed and all(script.search(c["message"]) and script.search(c["hint"]) for c in failed
                              if c["verdict"] == "failed")
        assert all(script.search(c["description"]) for c in body["checks"])
        assert all(c["counterexample"] == e["counterexample"] for c, e in zip(body["checks"], english["checks"])
                   if "counterexample" in c)
    with db.reading() as session:  # the three languages came from one grade
        assert session.scalar(select(func.count()).select_from(GradingRun)) == 1


def test_a_rejected_upload_is_explained_in_the_asked_language(client, db, demo):
    token = make_token(db, demo["student"].email)
    answer = client.post("/api/v1/submissions?lang=zh", headers={"Authorization": f"Bearer {token}"},
                         data={"exercise": SLUG, "file": (io.BytesIO(b"x = 1\x00\n"), "a.py")})
    body = answer.get_json()
    assert answer.status_code == 422 and body["error"]["code"] == "binary_file"
    assert CJK.search(body["error"]["message"]), body


@pytest.mark.parametrize("locale, script", [("zh_Hans", CJK), ("ru", CYRILLIC)])
def test_the_feedback_page_is_in_the_profile_language(client, db, demo, bank, sandbox, service_config, locale, script):
    with db.unit_of_work() as session:
        user = session.scalar(select(User).where(User.email == demo["student"].email))
        accounts.set_locale(session, user.id, locale)
    token = make_token(db, demo["student"].email)
    accepted = graded_stub(client, db, bank, sandbox, service_config, token)
    login(client, demo["student"])
    page = client.get(f"/submissions/{accepted['id']}").text
    for label in ("Smallest failing input", "Hint", "points"):
        assert localize.gettext(locale, label) in page and localize.gettext(locale, label) != label
    messages = re.findall(r'<p class="message">(.*?)</p>', page, re.S)
    assert messages and all(script.search(m) for m in messages)
