"""The pure parts of LTI launch checking: roles, the signed state, what a token says about
itself before verification, key lookup in a JWKS."""

from __future__ import annotations

import jwt
import pytest

from grader.lms.lti import security
from grader.lms.lti.launch import role_from
from grader.lms.lti.security import LaunchError, LoginState

ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"


@pytest.mark.parametrize("roles, expected", [
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"], "instructor"),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"], "instructor"),
    (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"], "instructor"),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"], "instructor"),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"], "student"),
    ([], "student"), ("Instructor", "student"), (None, "student"),
])
def test_teaching_roles_make_an_instructor_everything_else_a_student(roles, expected):
    assert role_from({ROLES: roles}) == expected


def test_state_round_trips_and_refuses_tampering_and_other_secrets():
    state = LoginState("n1", "https://iss", "client", "b1")
    token = security.sign_state("secret", state)
    assert security.read_state("secret", token) == state
    with pytest.raises(LaunchError) as tampered:
        security.read_state("secret", token[:-2] + "xx")
    assert tampered.value.status == 400
    with pytest.raises(LaunchError):
        security.read_state("another secret", token)
    with pytest.raises(LaunchError) as missing:
        security.read_state("secret", "")
    assert "no state" in missing.value.message


def test_peek_refuses_non_rs256_and_garbage():
    with pytest.raises(LaunchError):
        security.peek("garbage")
    hs = jwt.encode({"iss": "i", "aud": "c"}, "k" * 32, algorithm="HS256")
    with pytest.raises(LaunchError) as refused:
        security.peek(hs)
    assert refused.value.status == 401


def test_key_in_finds_by_kid_or_the_only_key():
    jwks = {"keys": [{"kty": "RSA", "kid": "a"}, {"kty": "RSA", "kid": "b"}]}
    assert security.key_in(jwks, "b") == {"kty": "RSA", "kid": "b"}
    assert security.key_in(jwks, "c") is None and security.key_in(jwks, None) is None
    assert security.key_in({"keys": [{"kty": "RSA"}]}, None) == {"kty": "RSA"}
    assert security.key_in(None, "a") is None


def test_nonce_key_fits_the_column_whatever_the_nonce():
    assert len(security.nonce_key("https://iss", "n" * 10_000)) == 64
