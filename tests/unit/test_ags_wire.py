"""The AGS wire format, timestamps, score choice and the token cache, without I/O."""

from __future__ import annotations

import datetime as dt
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from grader.lms import ags
from grader.lms.lti import token as tokens
from grader.lms.lti.keys import ToolKey
from grader.store.scores import Scored

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 12, 1, 17, 5, 3, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ToolKey("kid-1", pem, T0, None)


# ----------------------------------------------------------------------------- URLs and bodies
@pytest.mark.parametrize(("lineitem", "scores"), [
    ("https://lms.example/api/lti/courses/1/line_items/5", "https://lms.example/api/lti/courses/1/line_items/5/scores"),
    ("https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem?type_id=3",
     "https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=3"),
    ("https://lms.example/items/9/", "https://lms.example/items/9/scores"),
])
def test_scores_url_goes_before_the_query_string(lineitem: str, scores: str) -> None:
    assert ags.scores_url(lineitem) == scores


def test_score_body_has_absolute_points_completed_and_fully_graded() -> None:
    job = ags.ScoreJob(tokens.Platform(1, "iss", "cid", "https://t"), "https://li", "sub-1", 7.0, 10.0, None)
    assert ags.score_body(job, "2026-12-01T17:05:03.123+00:00") == {
        "userId": "sub-1", "scoreGiven": 7, "scoreMaximum": 10, "activityProgress": "Completed",
        "gradingProgress": "FullyGraded", "timestamp": "2026-12-01T17:05:03.123+00:00"}


# ----------------------------------------------------------------------------- timestamps
def test_timestamp_has_milliseconds_and_a_colon_in_the_offset() -> None:
    assert ags.format_timestamp(T0) == "2026-12-01T17:05:03.123+00:00"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert ags.format_timestamp(T0.astimezone(plus_two)) == "2026-12-01T17:05:03.123+00:00"
    assert ags.format_timestamp(T0.replace(microsecond=0)) == "2026-12-01T17:05:03.000+00:00"


def test_next_timestamp_is_one_millisecond_after_the_previous_in_the_same_millisecond_or_when_clock_went_back() -> None:
    assert ags.next_timestamp(T0, None) == T0.replace(microsecond=123000)
    assert ags.next_timestamp(T0, T0) == T0.replace(microsecond=124000)
    assert ags.next_timestamp(T0 - dt.timedelta(hours=1), T0) == T0.replace(microsecond=124000)
    assert ags.next_timestamp(T0, T0 - dt.timedelta(seconds=1)) == T0.replace(microsecond=123000)


def test_stamps_increase_per_line_item_and_user_only() -> None:
    stamps = ags.Stamps()
    first = stamps.next("li", "u", T0, None)
    assert stamps.next("li", "u", T0, None) > first
    assert stamps.next("li", "other", T0, None) == first
    assert stamps.next("other", "u", T0, None) == first


def test_parse_timestamp_reads_what_format_wrote_and_tolerates_garbage() -> None:
    assert ags.parse_timestamp(ags.format_timestamp(T0)) == T0.replace(microsecond=123000)
    assert ags.parse_timestamp("not a time") is None and ags.parse_timestamp(None) is None


# ----------------------------------------------------------------------------- which score
def scored(score: float | None, max_score: float | None = 10.0, n: int = 1) -> Scored:
    return Scored(n, 1, 1, "demo", T0, score, max_score)


def test_best_is_the_highest_and_latest_the_newest_graded_submission() -> None:
    rows = [scored(8.0, n=1), scored(3.0, n=2), scored(None, None, n=3)]
    assert ags.choose_score(rows, "best") == (8.0, 10.0)
    assert ags.choose_score(rows, "latest") == (3.0, 10.0)


def test_the_maximum_comes_from_the_submission_the_points_come_from() -> None:
    rows = [scored(8.0, 10.0, n=1), scored(9.0, 20.0, n=2)]
    assert ags.choose_score(rows, "best") == (9.0, 20.0)
    assert ags.choose_score(rows[:1], "latest") == (8.0, 10.0)


def test_nothing_graded_chooses_nothing() -> None:
    assert ags.choose_score([], "best") is None
    assert ags.choose_score([scored(None, None)], "latest") is None


# ----------------------------------------------------------------------------- assertion
def test_client_assertion_is_rs256_with_kid_and_aud_the_token_url(key: ToolKey) -> None:
    assertion = tokens.client_assertion(key, "client-9", "https://lms.example/login/oauth2/token", T0)
    public = serialization.load_pem_private_key(key.private_pem, None).public_key()
    claims = jwt.decode(assertion, public, algorithms=["RS256"], audience="https://lms.example/login/oauth2/token",
                        options={"verify_exp": False, "verify_iat": False})
    assert jwt.get_unverified_header(assertion)["kid"] == "kid-1"
    assert claims["iss"] == claims["sub"] == "client-9"
    assert claims["iat"] == int(T0.timestamp()) and claims["exp"] == claims["iat"] + 300
    other = tokens.client_assertion(key, "client-9", "https://t", T0)
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != claims["jti"]


def test_what_the_platform_said_is_quoted_oauth2_style() -> None:
    assert tokens._said(b'{"error": "invalid_client", "error_description": "no such client"}') == \
        ": invalid_client (no such client)"
    assert tokens._said(b"<html>down</html>") == ": <html>down</html>"
    assert tokens._said(b"") == ""


# ----------------------------------------------------------------------------- token cache
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


PLATFORM = tokens.Platform(1, "https://iss", "cid", "https://t")


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch, key: ToolKey) -> list[str]:
    made: list[str] = []

    def fake_request(platform, scopes, signing_key, timeout):  # noqa: ANN001, ANN202
        assert signing_key is key
        made.append(f"tok-{len(made) + 1}")
        return made[-1], 120.0

    monkeypatch.setattr(tokens, "request_token", fake_request)
    return made


def test_cached_token_is_reused_until_shortly_before_it_expires(fetched: list[str], key: ToolKey) -> None:
    clock = Clock()
    cache = tokens.TokenCache(clock)
    assert cache.get(PLATFORM, ("a", "b"), lambda: key, 1.0) == "tok-1"
    clock.now += 89
    assert cache.get(PLATFORM, ("b", "a"), lambda: key, 1.0) == "tok-1"  # same scopes in another order
    clock.now += 2  # 120 s token, renewed 30 s early
    assert cache.get(PLATFORM, ("a", "b"), lambda: key, 1.0) == "tok-2"


def test_tokens_are_per_platform_and_scope(fetched: list[str], key: ToolKey) -> None:
    cache = tokens.TokenCache(Clock())
    cache.get(PLATFORM, ("a",), lambda: key, 1.0)
    cache.get(PLATFORM, ("b",), lambda: key, 1.0)
    cache.get(tokens.Platform(2, "https://iss2", "cid", "https://t2"), ("a",), lambda: key, 1.0)
    assert fetched == ["tok-1", "tok-2", "tok-3"]


def test_drop_forgets_only_the_token_that_failed(fetched: list[str], key: ToolKey) -> None:
    cache = tokens.TokenCache(Clock())
    first = cache.get(PLATFORM, ("a",), lambda: key, 1.0)
    cache.drop(PLATFORM.id, ("a",), "some-older-token")
    assert cache.get(PLATFORM, ("a",), lambda: key, 1.0) == first
    cache.drop(PLATFORM.id, ("a",), first)
    assert cache.get(PLATFORM, ("a",), lambda: key, 1.0) == "tok-2"


def test_a_burst_of_threads_makes_one_token_request(fetched: list[str], key: ToolKey) -> None:
    cache, got = tokens.TokenCache(Clock()), []
    threads = [threading.Thread(target=lambda: got.append(cache.get(PLATFORM, ("a",), lambda: key, 1.0)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetched == ["tok-1"] and got == ["tok-1"] * 8
