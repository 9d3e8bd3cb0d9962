"""LTI 1.3 launches against a fake platform: real RSA keys, real JWTs, the platform's JWKS
fetched over real HTTP on loopback, and the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from fake_platform import INSTRUCTOR, FakePlatform
from service_fixtures import csrf_token
from sqlalchemy import func, select

from grader.lms.lti import security
from grader.store.models import Course, Enrolment, Submission, User
from grader.store.models_lms import ExternalIdentity, LtiContext, LtiGradeLink, LtiNonce, ReplyTarget

SLUG = "adam-from-scratch"
LINEITEM = "https://lms.example.edu/api/lti/courses/1/line_items/7"


@pytest.fixture
def platform(httpserver, db, app) -> FakePlatform:  # noqa: ANN001
    fake = FakePlatform(httpserver)
    fake.register(db)
    return fake


@pytest.fixture(autouse=True)
def refetch_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pause between JWKS fetches: the tests rotate keys right after a first launch."""
    monkeypatch.setattr(security, "MIN_REFETCH_SECONDS", 0.0)


def count(db, model, *where) -> int:  # noqa: ANN001
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_student_launch_signs_in_lands_on_the_exercise_and_creates_user_course_enrolment(platform, client, db):
    launch = platform.launch(client, sub="stu-1", custom={"exercise": SLUG})
    assert launch.response.status_code == 302, launch.response.text
    assert launch.response.headers["Location"].endswith(f"/exercises/{SLUG}")
    page = client.get(f"/exercises/{SLUG}")
    assert page.status_code == 200 and "User stu-1" in page.text
    with db.reading() as session:
        identity = session.scalar(select(ExternalIdentity).where(ExternalIdentity.subject == "stu-1"))
        user = identity.user
        assert (user.email, user.role) == ("stu-1@lms.example.edu", "student")
        context = session.scalar(select(LtiContext))
        course = session.get(Course, context.course_id)
        assert course.id.startswith("lti-") and course.title == "Deep Learning 101"
        assert session.scalar(select(func.count()).select_from(Enrolment).where(
            Enrolment.user_id == user.id, Enrolment.course_id == course.id)) == 1
    users_before = count(db, User)
    again = platform.launch(client, sub="stu-1", custom={"exercise": SLUG})
    assert again.response.status_code == 302
    assert count(db, User) == users_before and count(db, LtiContext) == 1


def test_instructor_roles_make_an_instructor(platform, client, db):
    launch = platform.launch(client, sub="teacher-1", roles=INSTRUCTOR, custom={"exercise": SLUG})
    assert launch.response.status_code == 302
    ta = platform.launch(client, sub="ta-1", custom={"exercise": SLUG},
                         roles=["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"])
    assert ta.response.status_code == 302
    with db.reading() as session:
        roles = dict(session.execute(select(ExternalIdentity.subject, User.role).join(User)).all())
    assert roles == {"teacher-1": "instructor", "ta-1": "instructor"}


def test_email_taken_or_missing_gets_a_placeholder(platform, client, db):
    taken = platform.launch(client, sub="stu-x", email="student@example.com", custom={"exercise": SLUG})
    none = platform.launch(client, sub="stu-y", tamper=lambda c: c.pop("email"), custom={"exercise": SLUG})
    assert taken.response.status_code == none.response.status_code == 302
    with db.reading() as session:
        emails = set(session.scalars(select(User.email).join(ExternalIdentity)))
    assert all(e.startswith("lti-") and e.endswith("@lti.invalid") for e in emails) and len(emails) == 2


def test_ags_claim_records_grade_link_and_a_later_web_form_submit_goes_to_the_platform(platform, client, db):
    launch = platform.launch(client, sub="stu-2", custom={"exercise": SLUG}, lineitem=LINEITEM)
    assert launch.response.status_code == 302
    with db.reading() as session:
        link = session.scalar(select(LtiGradeLink))
        assert (link.lineitem_url, link.subject) == (LINEITEM, "stu-2")
    page = client.get(f"/exercises/{SLUG}")
    answer = client.post(f"/exercises/{SLUG}/submit", data={"source": "import torch\nprint(1)\n",
                                                            "csrf_token": csrf_token(page.text)})
    assert answer.status_code == 303, answer.text
    with db.reading() as session:
        submission = session.scalar(select(Submission))
        target = session.scalar(select(ReplyTarget).where(ReplyTarget.submission_id == submission.id))
        assert (target.kind, target.url, target.subject, target.platform_id) == (
            "lti_ags", LINEITEM, "stu-2", link.platform_id)


def test_replayed_id_token_is_refused_with_a_clear_page(platform, client, db):
    launch = platform.launch(client, sub="stu-3", custom={"exercise": SLUG})
    assert launch.response.status_code == 302
    replay = platform.post_launch(client, launch.redirect_uri, launch.id_token, launch.state)
    assert replay.status_code == 401
    assert "already used" in replay.text and "Traceback" not in replay.text
    assert count(db, LtiNonce) == 1


def test_thirty_seconds_of_clock_skew_is_accepted(platform, client):
    def ahead(claims):  # noqa: ANN001, ANN202
        claims["iat"] += 30
        claims["nbf"] = claims["iat"]

    assert platform.launch(client, tamper=ahead, custom={"exercise": SLUG}).response.status_code == 302

    def behind(claims):  # noqa: ANN001, ANN202
        claims["iat"], claims["exp"] = int(time.time()) - 330, int(time.time()) - 30

    assert platform.launch(client, tamper=behind, custom={"exercise": SLUG}).response.status_code == 302


@pytest.mark.parametrize("shift", [600, -600])
def test_ten_minutes_of_clock_skew_is_refused(platform, client, shift):
    def skewed(claims):  # noqa: ANN001, ANN202
        claims["iat"] += shift
        claims["exp"] += shift

    response = platform.launch(client, tamper=skewed, custom={"exercise": SLUG}).response
    assert response.status_code == 401
    assert "clock" in response.text


def test_token_signed_with_a_rotated_platform_key_is_accepted_after_one_jwks_refetch(platform, client):
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 302
    assert platform.jwks_fetches == 1
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 302
    assert platform.jwks_fetches == 1  # cached
    platform.rotate()
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 302
    assert platform.jwks_fetches == 2


def test_unknown_kid_after_refetch_is_refused(platform, client):
    response = platform.launch(client, kid="nobody-knows-me", custom={"exercise": SLUG}).response
    assert response.status_code == 401 and "nobody-knows-me" in response.text
    assert platform.jwks_fetches == 1


def test_token_signed_by_another_key_under_a_known_kid_is_refused(platform, client):
    from fake_platform import PlatformKey

    forged = PlatformKey.new()
    response = platform.launch(client, key=forged, kid=platform.key.kid, custom={"exercise": SLUG}).response
    assert response.status_code == 401 and "signature" in response.text


def test_unknown_issuer_is_refused_at_login(platform, client):
    response = platform.launch(client, login_issuer="https://evil.example", custom={"exercise": SLUG}).response
    assert response.status_code == 403 and "not registered" in response.text


def test_unknown_deployment_is_refused(platform, client):
    response = platform.launch(client, tamper=lambda c: c.update(
        {"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "other-deployment"}),
        custom={"exercise": SLUG}).response
    assert response.status_code == 403 and "other-deployment" in response.text


def test_missing_or_forged_state_is_refused(platform, client):
    launch = platform.launch(client, custom={"exercise": SLUG})
    no_state = platform.post_launch(client, launch.redirect_uri, launch.id_token, None)
    forged = platform.post_launch(client, launch.redirect_uri, launch.id_token, launch.state[:-4] + "AAAA")
    assert no_state.status_code == 400 and "no state" in no_state.text
    assert forged.status_code == 400
    garbage = platform.post_launch(client, launch.redirect_uri, "not-a-jwt", launch.state)
    assert garbage.status_code == 400 and "Traceback" not in garbage.text


def test_nonce_of_another_login_is_refused(platform, client):
    response = platform.launch(client, tamper=lambda c: c.update({"nonce": "some-other-nonce"}),
                               custom={"exercise": SLUG}).response
    assert response.status_code == 401 and "nonce" in response.text


def test_unknown_exercise_and_unbound_link_are_refused(platform, client):
    unknown = platform.launch(client, custom={"exercise": "no-such-exercise"}).response
    unbound = platform.launch(client, resource_link_id="fresh-link").response
    assert unknown.status_code == 404 and "no-such-exercise" in unknown.text
    assert unbound.status_code == 404 and "custom parameter" in unbound.text


def test_first_launch_binds_the_link_so_later_launches_need_no_custom_parameter(platform, client):
    assert platform.launch(client, resource_link_id="link-9", custom={"exercise": SLUG}).response.status_code == 302
    later = platform.launch(client, resource_link_id="link-9").response
    assert later.status_code == 302 and later.headers["Location"].endswith(f"/exercises/{SLUG}")


def test_pinned_course_receives_the_launches(httpserver, db, app, client):
    platform = FakePlatform(httpserver, issuer="https://moodle.example.edu")
    platform.register(db, course_id="demo")
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 302
    with db.reading() as session:
        assert session.scalar(select(LtiContext.course_id)) == "demo"
        assert session.scalar(select(func.count()).select_from(Course).where(Course.id.like("lti-%"))) == 0


def test_registration_made_while_the_app_runs_works_without_recreating_it(httpserver, db, app, client):
    platform = FakePlatform(httpserver, issuer="https://late.example.edu")
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 403
    platform.register(db)
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 302


def test_launch_over_https_needs_the_login_cookie(platform, app):
    browser = app.test_client()
    forger = app.test_client()
    ok = platform.launch(browser, custom={"exercise": SLUG})
    assert ok.response.status_code == 302  # plain http: the signed state alone

    secure_browser = app.test_client()
    login = secure_browser.get("/lti/login", base_url="https://localhost", query_string={
        "iss": platform.issuer, "login_hint": "x", "client_id": platform.client_id})
    cookie = login.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=None" in cookie
    from urllib.parse import parse_qs, urlsplit

    query = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
    token = platform.mint(platform.claims(query["nonce"], custom={"exercise": SLUG}))
    refused = forger.post("/lti/launch", base_url="https://localhost", data={"id_token": token, "state": query["state"]})
    assert refused.status_code == 401 and "browser" in refused.text
    accepted = secure_browser.post("/lti/launch", base_url="https://localhost",
                                   data={"id_token": token, "state": query["state"]})
    assert accepted.status_code == 302


def test_expired_nonces_are_swept_by_the_next_launch(platform, client, db):
    import datetime as dt

    with db.unit_of_work() as session:
        session.add(LtiNonce(nonce="old", expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
    assert platform.launch(client, custom={"exercise": SLUG}).response.status_code == 302
    with db.reading() as session:
        assert session.scalar(select(LtiNonce).where(LtiNonce.nonce == "old")) is None
    assert count(db, LtiNonce) == 1


def test_jwks_endpoint_down_is_a_clear_refusal(httpserver, db, app, client):
    platform = FakePlatform(httpserver, issuer="https://down.example.edu")
    with db.unit_of_work() as session:
        from grader.lms.lti import registry

        registry.add_platform(session, platform.issuer, platform.client_id, [platform.deployment_id],
                              platform.auth_url, platform.token_url, "http://127.0.0.1:9/jwks")
    response = platform.launch(client, custom={"exercise": SLUG}).response
    assert response.status_code == 401 and "could not be fetched" in response.text


def test_tool_conf_reads_registrations_on_every_call(db, service_config):
    from grader.lms.lti import registry

    with db.reading() as session:
        conf = registry.DatabaseToolConf(session, service_config.instance_path)
        assert conf.find_registration_by_params("https://new.example.edu", "c") is None
        with db.unit_of_work() as writer:
            registry.add_platform(writer, "https://new.example.edu", "c", ["d1"], "https://new.example.edu/auth",
                                  "https://new.example.edu/token", "https://new.example.edu/jwks")
        session.rollback()  # the end of the reader's transaction (a request's session is new anyway)
        registration = conf.find_registration_by_params("https://new.example.edu", "c")
        assert registration.get_auth_token_url() == "https://new.example.edu/token"
        assert registration.get_kid() == conf.keys.current().kid
        assert conf.find_deployment_by_params("https://new.example.edu", "d1", "c").get_deployment_id() == "d1"
        assert conf.find_deployment_by_params("https://new.example.edu", "d2", "c") is None
        assert [k["kid"] for k in conf.get_jwks()["keys"]] == [conf.keys.current().kid]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serialises the writers
def test_a_first_launch_whose_account_a_concurrent_launch_created_meanwhile_is_retried(platform, app, client, db,
                                                                                     monkeypatch):
    """Two first launches of one platform user at once: the second commits the account (and
    the new course) right after the first found the email free. The first is run again and
    signs in to the same account."""
    from grader.store import accounts

    free_email, competed = accounts.unused_email, []

    def email_then_competitor(session, email):  # noqa: ANN001, ANN202
        found = free_email(session, email)
        if not competed:  # the first launch only; the competitor finds the email unhindered
            competed.append(None)
            competed[0] = platform.launch(app.test_client(), sub="racer", custom={"exercise": SLUG})
        return found

    monkeypatch.setattr(accounts, "unused_email", email_then_competitor)
    first = platform.launch(client, sub="racer", custom={"exercise": SLUG})
    assert competed[0].response.status_code == 302, competed[0].response.text
    assert first.response.status_code == 302, first.response.text
    assert client.get(f"/exercises/{SLUG}").status_code == 200
    assert count(db, ExternalIdentity) == 1 and count(db, User, User.email == "racer@lms.example.edu") == 1
    assert count(db, LtiContext) == 1
