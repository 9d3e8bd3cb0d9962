"""Deep Linking 2.0 round trip, the tool's JWKS and its configuration JSON."""

from __future__ import annotations

import pytest
from fake_platform import INSTRUCTOR, FakePlatform
from service_fixtures import csrf_token
from sqlalchemy import select

from grader.config import Config
from grader.lms.lti.keys import ToolKeys
from grader.store.models import Exercise
from grader.store.models_lms import LtiResourceLink

SLUG = "adam-from-scratch"
RETURN_URL = "https://lms.example.edu/courses/1/deep_linking_response?modal=true"


@pytest.fixture
def platform(httpserver, db, app) -> FakePlatform:  # noqa: ANN001
    fake = FakePlatform(httpserver)
    fake.register(db)
    return fake


def test_deep_linking_round_trip_returns_a_verifiable_link_that_later_opens_the_exercise(platform, app, db, bank):
    instructor = app.test_client()
    launch = platform.launch(instructor, sub="teacher-1", roles=INSTRUCTOR, message_type="LtiDeepLinkingRequest",
                             deep_link_return_url=RETURN_URL)
    assert launch.response.status_code == 302 and launch.response.headers["Location"].endswith("/lti/deep-link")
    picker = instructor.get("/lti/deep-link")
    assert picker.status_code == 200
    for exercise in bank.exercises():
        assert f'name="exercise" value="{exercise.slug}"' in picker.text
    answer = instructor.post("/lti/deep-link", data={"exercise": SLUG, "csrf_token": csrf_token(picker.text)})
    assert answer.status_code == 200, answer.text
    return_url, token = platform.deep_link_form(answer.text)
    assert return_url == RETURN_URL
    claims = platform.verify_deep_link_response(token, instructor.get("/.well-known/jwks.json").get_json())
    assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
    [item] = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    with db.reading() as session:
        exercise = session.scalar(select(Exercise).where(Exercise.slug == SLUG))
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"exercise": SLUG}
    assert item["url"].endswith("/lti/launch")
    assert item["lineItem"] == {"scoreMaximum": exercise.points, "label": exercise.title, "resourceId": SLUG}
    assert instructor.get("/lti/deep-link").status_code == 400  # the selection is used up

    # The platform creates the link with the custom parameter: a student's launch opens it.
    student = app.test_client()
    opened = platform.launch(student, sub="stu-1", resource_link_id="dl-link-1", custom=item["custom"])
    assert opened.response.status_code == 302 and opened.response.headers["Location"].endswith(f"/exercises/{SLUG}")
    assert student.get(f"/exercises/{SLUG}").status_code == 200
    with db.reading() as session:
        assert session.scalar(select(LtiResourceLink.exercise_id).where(
            LtiResourceLink.resource_link_id == "dl-link-1")) == exercise.id


def test_a_student_cannot_make_a_deep_linking_request(platform, client):
    response = platform.launch(client, sub="stu-1", message_type="LtiDeepLinkingRequest").response
    assert response.status_code == 403 and "instructor" in response.text


def test_deep_link_picker_without_a_pending_request_or_with_a_foreign_slug_is_refused(platform, app):
    instructor = app.test_client()
    platform.launch(instructor, sub="teacher-1", roles=INSTRUCTOR, message_type="LtiDeepLinkingRequest")
    picker = instructor.get("/lti/deep-link")
    bad = instructor.post("/lti/deep-link", data={"exercise": "nope", "csrf_token": csrf_token(picker.text)})
    no_csrf = instructor.post("/lti/deep-link", data={"exercise": SLUG})
    assert bad.status_code == 404 and no_csrf.status_code == 400
    assert app.test_client().get("/lti/deep-link").status_code == 302  # not signed in: to the login page


def test_jwks_serves_the_current_key_and_both_after_rotation(app, client, service_config):
    keys = ToolKeys(service_config.instance_path)
    first = client.get("/.well-known/jwks.json").get_json()
    assert [k["kid"] for k in first["keys"]] == [keys.current().kid]
    assert {"kty", "n", "e", "alg", "use"} <= set(first["keys"][0]) and "d" not in first["keys"][0]
    new = keys.rotate()
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]
    assert kids == [first["keys"][0]["kid"], new.kid]


def test_config_json_uses_base_url(service_config, db, demo):  # noqa: ANN001
    from grader.web import create_app

    app = create_app(service_config.replace(base_url="https://grader.example.edu/"), db)
    body = app.test_client().get("/lti/config.json").get_json()
    assert body["target_link_uri"] == "https://grader.example.edu/lti/launch"
    assert body["oidc_initiation_url"] == "https://grader.example.edu/lti/login"
    assert body["public_jwk_url"] == "https://grader.example.edu/.well-known/jwks.json"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in body["scopes"]
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem" in body["scopes"]
    placements = body["extensions"][0]["settings"]["placements"]
    assert {p["message_type"] for p in placements} == {"LtiDeepLinkingRequest"}


@pytest.mark.parametrize("trust", [True, False])
def test_forwarded_headers_are_honoured_only_behind_a_trusted_proxy(service_config: Config, db, demo, trust):  # noqa: ANN001
    from grader.web import create_app

    app = create_app(service_config.replace(trust_proxy=trust), db)
    body = app.test_client().get("/lti/config.json", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "proxy.example.edu"}).get_json()
    expected = "https://proxy.example.edu/lti/launch" if trust else "http://localhost/lti/launch"
    assert body["target_link_uri"] == expected
