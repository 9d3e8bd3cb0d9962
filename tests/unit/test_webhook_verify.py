"""Verifying Standard Webhooks signatures (``grader.lms.sources.verify``) with real HMACs made
by the ``standardwebhooks`` library itself: every way a delivery can be wrong is refused with
its own reason, and nothing the library raises escapes."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from standardwebhooks.webhooks import Webhook

from grader.lms.sources import WebhookRefused, new_secret, verify

BODY = b'{"course": "demo", "assignment": "x"}'
TOLERANCE = 300


def headers(secret: str, body: bytes = BODY, message_id: str = "msg_1", at: dt.datetime | None = None) -> dict:
    at = at or dt.datetime.now(dt.timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(math.floor(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body.decode())}


def refused(secrets: list[str], body: bytes, sent: dict, **kwargs) -> WebhookRefused:  # noqa: ANN003
    with pytest.raises(WebhookRefused) as caught:
        verify(secrets, body, sent, TOLERANCE, **kwargs)
    return caught.value


def test_new_secret_is_whsec_base64_of_32_bytes_that_the_library_accepts():
    import base64

    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != new_secret()
    Webhook(secret)  # does not raise


def test_correct_signature_verifies_and_returns_the_message_id():
    secret = new_secret()
    assert verify([secret], BODY, headers(secret, message_id="abc-1"), TOLERANCE) == "abc-1"


def test_header_names_are_case_insensitive():
    secret = new_secret()
    sent = {key.title(): value for key, value in headers(secret).items()}
    assert verify([secret], BODY, sent, TOLERANCE) == "msg_1"


def test_any_of_several_secrets_verifies_during_a_rotation():
    old, new = new_secret(), new_secret()
    assert verify([new, old], BODY, headers(old), TOLERANCE) == "msg_1"
    assert verify([new, old], BODY, headers(new), TOLERANCE) == "msg_1"


def test_signature_header_with_several_entries_matches_any():
    old, new = new_secret(), new_secret()
    sent = headers(new)
    sent["webhook-signature"] = headers(old)["webhook-signature"] + " " + sent["webhook-signature"]
    assert verify([new], BODY, sent, TOLERANCE) == "msg_1"


def test_wrong_secret_is_a_bad_signature():
    assert refused([new_secret()], BODY, headers(new_secret())).reason == "bad_signature"


def test_changed_body_is_a_bad_signature():
    secret = new_secret()
    assert refused([secret], BODY + b" ", headers(secret)).reason == "bad_signature"


def test_changed_message_id_is_a_bad_signature():
    secret = new_secret()
    sent = headers(secret)
    sent["webhook-id"] = "msg_2"
    assert refused([secret], BODY, sent).reason == "bad_signature"


def test_source_without_valid_secrets_refuses_everything():
    assert refused([], BODY, headers(new_secret())).reason == "bad_signature"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_refused_by_name(missing: str):
    secret = new_secret()
    sent = headers(secret)
    del sent[missing]
    problem = refused([secret], BODY, sent)
    assert problem.reason == "missing_headers" and missing in problem.message and problem.field == missing


def test_no_headers_at_all_is_refused():
    assert refused([new_secret()], BODY, {}).reason == "missing_headers"


@pytest.mark.parametrize("signature", ["garbage", "v1,@@@", "v1", "v1,", "v1,abc,def", "v1,YWJj v2", ",", "v1 ,x"])
def test_malformed_signature_header_is_refused_not_crashed(signature: str):
    secret = new_secret()
    sent = headers(secret)
    sent["webhook-signature"] = signature
    assert refused([secret], BODY, sent).reason == "malformed_signature"


def test_wellformed_signature_of_the_wrong_length_is_a_bad_signature():
    secret = new_secret()
    sent = headers(secret)
    sent["webhook-signature"] = "v1,YWJj"
    assert refused([secret], BODY, sent).reason == "bad_signature"


def test_unknown_signature_versions_are_skipped():
    secret = new_secret()
    sent = headers(secret)
    sent["webhook-signature"] = "v1a,c29tZXRoaW5n " + sent["webhook-signature"]
    assert verify([secret], BODY, sent, TOLERANCE) == "msg_1"


@pytest.mark.parametrize("timestamp", ["soon", "1.5e9", "-5", "", "99999999999999999999", "\u00b2", "\u0661\u0662"])
def test_malformed_timestamp_is_refused(timestamp: str):
    secret = new_secret()
    sent = headers(secret)
    sent["webhook-timestamp"] = timestamp
    assert refused([secret], BODY, sent).reason in ("malformed_signature", "missing_headers")


def test_timestamp_older_than_five_minutes_is_stale():
    secret = new_secret()
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=TOLERANCE + 30)
    problem = refused([secret], BODY, headers(secret, at=old))
    assert problem.reason == "stale_timestamp" and "past" in problem.message


def test_timestamp_far_in_the_future_is_refused():
    secret = new_secret()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    problem = refused([secret], BODY, headers(secret, at=later))
    assert problem.reason == "stale_timestamp" and "future" in problem.message


def test_timestamp_within_the_tolerance_verifies():
    secret = new_secret()
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=TOLERANCE - 30)
    assert verify([secret], BODY, headers(secret, at=recent), TOLERANCE) == "msg_1"


def test_our_tolerance_is_enforced_even_when_tighter_than_the_librarys():
    secret = new_secret()
    minute_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=60)
    with pytest.raises(WebhookRefused) as caught:
        verify([secret], BODY, headers(secret, at=minute_ago), tolerance_seconds=10)
    assert caught.value.reason == "stale_timestamp"


def test_tolerance_is_measured_against_the_given_clock():
    secret = new_secret()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    problem = refused([secret], BODY, headers(secret, at=at), now=at + dt.timedelta(minutes=10))
    assert problem.reason == "stale_timestamp"


def test_body_that_is_not_utf8_is_refused_not_crashed():
    secret = new_secret()
    assert refused([secret], b"\xff\xfe{}", headers(secret)).reason == "bad_signature"


@pytest.mark.parametrize("message_id", ["x" * 256, "a\nb", "tab\there"])
def test_unstorable_message_id_is_refused(message_id: str):
    secret = new_secret()
    sent = headers(secret, message_id="placeholder")
    sent["webhook-id"] = message_id
    assert refused([secret], BODY, sent).reason == "malformed_signature"
