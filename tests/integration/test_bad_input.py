"""Bad input, through the web form and through the API, on both database back ends: every
case gets a clear message (a flash on the exercise page or an error page; a JSON error with
the right status), nothing already stored is lost, and the server keeps serving.

Each test walks a table of cases against one app (a fresh app per case would cost a seeded
database each); a failure names the case."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from service_fixtures import add_user, csrf_token, login, make_token

from grader.store.models import Submission
from grader.web import create_app

SLUG = "none-grad-after-rebinding"
GOOD = b"import torch\n\nx = 1\n"
CAP = 1 << 20  # the default max_upload_bytes

# (case, filename, data, API status, API code, words the message must contain)
BAD_FILES = [
    ("empty", "fix.py", b"", 422, "empty_file", "empty"),
    ("blank", "fix.py", b"  \n\n\t\n", 422, "empty_file", "empty"),
    ("binary", "fix.py", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00", 422, "binary_file", "NUL"),
    ("not-utf8", "fix.py", "x = 'café'\n".encode("latin-1"), 422, "not_utf8", "UTF-8"),
    ("broken-notebook", "fix.ipynb", b'{"cells": [{"cell_type": "code", ', 422, "bad_notebook", "notebook"),
    ("not-a-notebook", "fix.ipynb", b'{"hello": "world"}', 422, "bad_notebook", "notebook"),
    ("wrong-extension", "fix.txt", b"x = 1\n", 415, "unsupported_type", ".txt"),
    ("no-extension", "Makefile", b"x = 1\n", 415, "unsupported_type", "extensionless"),
    ("over-the-cap", "fix.py", b"#" * (CAP + 1), 413, "too_large", "1024 KiB"),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<div class="flash flash-\w+"[^>]*>([^<]*)</div>', page)]


def stored(db) -> list[tuple[int, bytes]]:  # noqa: ANN001
    with db.reading() as session:
        return [(s.id, s.content) for s in session.query(Submission).order_by(Submission.id)]


def assert_api_error(response, status: int, code: str | None = None, field: str | None = None,  # noqa: ANN001
                     case: str = "") -> dict:
    assert response.status_code == status, f"{case}: {response.status_code} {response.text}"
    assert response.mimetype == "application/json", case
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "field"} and error["message"], case
    if code is not None:
        assert error["code"] == code, f"{case}: {error}"
    if field is not None:
        assert error["field"] == field, f"{case}: {error}"
    return error


@pytest.fixture
def token(db, demo) -> str:  # noqa: ANN001
    return make_token(db, demo["student"].email)


class ApiCaller:
    """A script with a token, which checks after every rejection that nothing stored was lost
    and that a good submission still goes through."""

    def __init__(self, client, token: str, db):  # noqa: ANN001
        self.client, self.token, self.db = client, token, db
        self.good("good.py")

    def post(self, **kwargs):  # noqa: ANN003, ANN201
        return self.client.post("/api/v1/submissions", headers={**bearer(self.token), **kwargs.pop("headers", {})},
                                **kwargs)

    def good(self, filename: str = "again.py") -> None:
        response = self.post(data={"exercise": SLUG, "file": (io.BytesIO(GOOD), filename)})
        assert response.status_code == 202, response.text
        self.before = stored(self.db)

    def still_serving(self, case: str) -> None:
        assert stored(self.db) == self.before, f"{case}: a rejected submission was stored, or a stored one lost"
        assert self.client.get("/api/v1/health").status_code == 200
        self.good()


@pytest.fixture
def api(client, token, db) -> ApiCaller:  # noqa: ANN001
    return ApiCaller(client, token, db)


# ----------------------------------------------------------------------------- the API
def test_api_rejects_every_bad_file_with_a_json_error_and_loses_nothing(api):
    for case, filename, data, status, code, words in BAD_FILES:
        response = api.post(data={"exercise": SLUG, "file": (io.BytesIO(data), filename)})
        error = assert_api_error(response, status, code, "file", case)
        assert words in error["message"], f"{case}: {error}"
        api.still_serving(case)


def test_api_rejects_the_same_bad_files_sent_as_json(api):
    for case, filename, data, status, code, words in BAD_FILES:
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:  # JSON carries text only: the nearest a script can send is a lone surrogate
            source, code, words = "x = '\udce9'", "not_utf8", "Unicode"
        body = json.dumps({"exercise": SLUG, "filename": filename, "source": source})
        error = assert_api_error(api.post(data=body, content_type="application/json"), status, code, case=case)
        assert words in error["message"], f"{case}: {error}"
        api.still_serving(case)


def test_api_answers_413_json_to_a_body_over_the_cap_without_reading_it(api):
    stream = UnreadableStream(CAP + (1 << 20))
    response = api.post(input_stream=stream, content_type="multipart/form-data; boundary=x")
    error = assert_api_error(response, 413, "too_large")
    assert "1024 KiB" in error["message"] and stream.read_bytes == 0
    api.still_serving("body over the cap")


def test_the_upload_cap_is_configurable(service_config, db, demo, token):
    client = create_app(service_config.replace(max_upload_bytes=1000), db).test_client()
    response = client.post("/api/v1/submissions", headers=bearer(token),
                           data={"exercise": SLUG, "file": (io.BytesIO(b"#" * 1001), "fix.py")})
    assert_api_error(response, 413, "too_large", "file")
    response = client.post("/api/v1/submissions", headers=bearer(token), data=b"#" * 70_000,
                           content_type="application/json")
    assert_api_error(response, 413, "too_large")
    assert stored(db) == []


JSON_BODIES = [  # (case, body, status, code, field)
    ("unknown exercise", {"exercise": "no-such-exercise", "source": "x = 1\n"}, 422, "unknown_exercise", "exercise"),
    ("unknown course", {"exercise": SLUG, "source": "x = 1\n", "course": "nope"}, 422, "unknown_course", "course"),
    ("no source", {"exercise": SLUG}, 422, "invalid", "source"),
    ("no exercise", {"source": "x = 1\n"}, 422, "invalid", "exercise"),
    ("empty exercise", {"exercise": "", "source": "x = 1\n"}, 422, "invalid", "exercise"),
    ("extra field", {"exercise": SLUG, "source": "x = 1\n", "colour": "red"}, 422, "invalid", "colour"),
    ("source not text", {"exercise": SLUG, "source": 42}, 422, "invalid", None),
    ("not an object", [SLUG, "x = 1"], 422, "invalid", None),
    ("null", None, 422, "invalid", None),
    ("NUL in exercise", {"exercise": "\x00", "source": "x = 1\n"}, 422, "unknown_exercise", "exercise"),
    ("NUL in course", {"exercise": SLUG, "source": "x = 1\n", "course": "de\x00mo"}, 422, "unknown_course",
     "course"),
    ("NUL in filename", {"exercise": SLUG, "source": "x = 1\n", "filename": "a\x00.txt"}, 415, "unsupported_type",
     "file"),
    ("long exercise", {"exercise": SLUG * 50, "source": "x = 1\n"}, 422, "invalid", "exercise"),
    ("surrogate exercise", {"exercise": "\udce9", "source": "x = 1\n"}, 422, "invalid", "exercise"),
]


def test_api_rejects_a_bad_json_body_naming_the_field_at_fault(api):
    for case, body, status, code, field in JSON_BODIES:
        response = api.post(data=json.dumps(body), content_type="application/json")
        assert_api_error(response, status, code, field, case)
        api.still_serving(case)


MULTIPART_MISSING = [  # (case, fields as (filename, bytes) for files, field at fault)
    ("no exercise", {"file": ("fix.py", GOOD)}, "exercise"),
    ("no file", {"exercise": SLUG}, "file"),
    ("file without a name", {"exercise": SLUG, "file": ("", GOOD)}, "file"),
    ("blank exercise", {"exercise": "   ", "file": ("fix.py", GOOD)}, "exercise"),
]


def test_api_rejects_a_multipart_body_with_a_missing_field(api):
    for case, fields, field in MULTIPART_MISSING:
        data = {key: (io.BytesIO(value[1]), value[0]) if isinstance(value, tuple) else value
                for key, value in fields.items()}
        response = api.post(data=data, content_type="multipart/form-data")
        assert_api_error(response, 422, "missing_field", field, case)
        api.still_serving(case)


def test_api_rejects_an_unknown_exercise_sent_as_multipart(api):
    for slug in ("no-such-exercise", "\x00", "x" * 500):
        response = api.post(data={"exercise": slug, "file": (io.BytesIO(GOOD), "fix.py")})
        error = assert_api_error(response, 422, "unknown_exercise", "exercise", repr(slug[:20]))
        assert repr(slug[:20])[:-1] in error["message"] and len(error["message"]) < 200, error
        api.still_serving(repr(slug[:20]))


UNREADABLE = [  # (case, content type, body, status, code)
    ("plain text", "text/plain", b"x = 1\n", 415, "unsupported_media_type"),
    ("url-encoded form", "application/x-www-form-urlencoded", b"exercise=x&source=y", 415, "unsupported_media_type"),
    ("no content type", None, b"x = 1\n", 415, "unsupported_media_type"),
    ("broken JSON", "application/json", b"{not json", 400, "bad_json"),
    ("empty JSON", "application/json", b"", 422, "invalid"),
    ("JSON not UTF-8", "application/json", b'{"exercise": "\xff\xfe"}', 400, "bad_json"),
    ("JSON nested too deep", "application/json", b"[" * 100_000, 400, "bad_json"),
    ("multipart without boundary", "multipart/form-data", b"--x\r\n", 422, "missing_field"),
]


def test_api_rejects_a_body_it_cannot_read(api):
    for case, content_type, data, status, code in UNREADABLE:
        response = api.post(data=data, content_type=content_type) if content_type else api.post(data=data)
        assert_api_error(response, status, code, case=case)
        api.still_serving(case)


BAD_AUTHORIZATION = [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer tg_not-a-real-token"},
                     {"Authorization": "Bearer not-even-our-prefix"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                     {"Authorization": "Bearer " + "x" * 5000}, {"Authorization": "tg_token-without-scheme"}]


def test_api_answers_401_to_a_bad_or_missing_token(client, api):
    for headers in BAD_AUTHORIZATION:
        for method, url, kwargs in [("post", "/api/v1/submissions", {"json": {"exercise": SLUG, "source": "x"}}),
                                    ("get", "/api/v1/exercises", {}), ("get", "/api/v1/submissions/1", {})]:
            response = getattr(client, method)(url, headers=headers, **kwargs)
            assert_api_error(response, 401, "unauthorized", case=f"{headers} {method} {url}")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        api.still_serving(str(headers)[:40])


def test_api_answers_a_json_404_for_what_does_not_exist(client, token):
    for url in ("/api/v1/submissions/0", "/api/v1/submissions/-1", "/api/v1/submissions/abc",
                "/api/v1/submissions/99999999999999999999999", "/api/v1/submissions/2147483648",
                "/api/v1/submissions/2147483647", "/api/v1/no-such-thing", "/api/v2/submissions"):
        assert_api_error(client.get(url, headers=bearer(token)), 404, "not_found", case=url)


def test_api_answers_405_json_with_allow_for_a_wrong_method(client, token):
    response = client.delete("/api/v1/submissions", headers=bearer(token))
    assert_api_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_api_answers_429_json_after_too_many_submissions(service_config, db, demo, token):
    client = create_app(service_config.replace(ratelimit_enabled=True, submit_rate="3 per minute"), db).test_client()
    for _ in range(3):
        ok = client.post("/api/v1/submissions", headers=bearer(token), json={"exercise": SLUG, "source": "x = 1\n"})
        assert ok.status_code == 202
    response = client.post("/api/v1/submissions", headers=bearer(token), json={"exercise": SLUG, "source": "x = 1\n"})
    error = assert_api_error(response, 429, "rate_limited")
    assert "3 per 1 minute" in error["message"] and int(response.headers["Retry-After"]) > 0
    assert len(stored(db)) == 3
    assert client.get("/api/v1/exercises", headers=bearer(token)).status_code == 200  # reading is not limited
    other = make_token(db, add_user(db, "other@example.org").email)  # the limit is per token
    assert client.post("/api/v1/submissions", headers=bearer(other),
                       json={"exercise": SLUG, "source": "x = 1\n"}).status_code == 202


# ----------------------------------------------------------------------------- the web form
class FormUser:
    """A signed-in student on the exercise page, who checks after every rejection that nothing
    stored was lost and that a good submission still goes through."""

    def __init__(self, client, account, db):  # noqa: ANN001
        self.client, self.db = client, db
        login(client, account)
        self.token = csrf_token(client.get(f"/exercises/{SLUG}").text)
        self.good()

    def submit(self, data: dict, slug: str = SLUG, with_token: bool = True):  # noqa: ANN201
        return self.client.post(f"/exercises/{slug}/submit", data={"csrf_token": self.token, **data} if with_token
                                else data)

    def good(self) -> None:
        response = self.submit({"source": GOOD.decode()})
        assert response.status_code == 303 and "/submissions/" in response.location
        self.before = stored(self.db)

    def still_serving(self, case: str) -> None:
        assert stored(self.db) == self.before, f"{case}: a rejected submission was stored, or a stored one lost"
        assert self.client.get(f"/exercises/{SLUG}").status_code == 200
        self.good()


@pytest.fixture
def student(client, demo, db) -> FormUser:  # noqa: ANN001
    return FormUser(client, demo["student"], db)


def test_form_rejects_every_bad_file_with_a_message_on_the_exercise_page(student):
    for case, filename, data, _status, _code, words in BAD_FILES:
        response = student.submit({"file": (io.BytesIO(data), filename)})
        assert response.status_code == 303 and response.location.endswith(f"/exercises/{SLUG}"), case
        page = student.client.get(response.location)
        assert page.status_code == 200, case
        (message,) = flashes(page.text)
        assert words in message, f"{case}: {message}"
        assert "flash flash-error" in page.text and "Traceback" not in page.text
        student.still_serving(case)


def test_form_without_a_file_or_code_asks_for_one(student):
    for case, data in [("nothing", {}), ("blank code", {"source": "  \n"}),
                       ("file without a name", {"file": (io.BytesIO(GOOD), "")})]:
        response = student.submit(data)
        page = student.client.get(response.location)
        assert flashes(page.text) == ["Choose a .py or .ipynb file, or paste your code, then submit."], case
        student.still_serving(case)


def test_form_answers_an_error_page_to_a_body_over_the_cap_without_reading_it(student):
    stream = UnreadableStream(CAP + (1 << 20))
    response = student.client.post(f"/exercises/{SLUG}/submit", input_stream=stream,
                                   content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "File too large" in response.text and "1024 KiB" in response.text and stream.read_bytes == 0
    student.still_serving("body over the cap")


def test_form_for_an_unknown_exercise_answers_a_404_page(student):
    response = student.submit({"file": (io.BytesIO(GOOD), "fix.py")}, slug="no-such-exercise")
    assert response.status_code == 404 and "Not found" in response.text
    student.still_serving("unknown exercise")


def test_form_without_a_csrf_token_answers_a_400_page(student):
    response = student.submit({"file": (io.BytesIO(GOOD), "fix.py")}, with_token=False)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Form expired" in response.text
    student.still_serving("no CSRF token")


def test_form_with_a_csrf_token_of_another_session_answers_a_400_page(app, student):
    foreign = csrf_token(app.test_client().get("/login").text)  # a page fetched in another browser
    for token in (foreign, "garbage", ""):
        response = student.submit({"csrf_token": token, "file": (io.BytesIO(GOOD), "fix.py")}, with_token=False)
        assert response.status_code == 400 and "Form expired" in response.text, token
        student.still_serving(f"CSRF token {token[:10]!r}")


def test_a_csrf_token_from_before_sign_in_is_refused_after_it(client, demo, db):
    before = csrf_token(client.get("/login").text)
    login(client, demo["student"])
    response = client.post(f"/exercises/{SLUG}/submit",
                           data={"csrf_token": before, "file": (io.BytesIO(GOOD), "fix.py")})
    assert response.status_code == 400 and stored(db) == []


def test_form_answers_a_429_page_after_too_many_submissions(service_config, db, demo):
    client = create_app(service_config.replace(ratelimit_enabled=True, submit_rate="3 per minute"), db).test_client()
    login(client, demo["student"])
    token = csrf_token(client.get(f"/exercises/{SLUG}").text)
    for _ in range(3):
        assert client.post(f"/exercises/{SLUG}/submit", data={"csrf_token": token, "source": "x = 1\n"}
                           ).status_code == 303
    response = client.post(f"/exercises/{SLUG}/submit", data={"csrf_token": token, "source": "x = 1\n"})
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert "Too many requests" in response.text and "3 per 1 minute" in response.text
    assert len(stored(db)) == 3
    assert client.get(f"/exercises/{SLUG}").status_code == 200


def test_login_is_rate_limited(service_config, db, demo):
    client = create_app(service_config.replace(ratelimit_enabled=True, login_rate="3 per minute"), db).test_client()
    token = csrf_token(client.get("/login").text)
    for _ in range(3):
        wrong = client.post("/login", data={"csrf_token": token, "email": demo["student"].email,
                                            "password": "not-the-password"})
        assert wrong.status_code == 401 and "Wrong email or password." in wrong.text
    response = client.post("/login", data={"csrf_token": token, "email": demo["student"].email,
                                           "password": demo["student"].password})
    assert response.status_code == 429 and "Too many requests" in response.text
    assert client.get("/login").status_code == 200  # the page itself still shows


def test_login_with_odd_credentials_is_refused_with_a_page(client):
    token = csrf_token(client.get("/login").text)
    for email, password in [("nul\x00@example.org", "password-123"), ("x" * 400 + "@example.org", "password-123"),
                            ("", ""), ("student@example.com", "p" * 2000), ("not an email", "password-123")]:
        response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
        assert response.status_code in (400, 401) and response.mimetype == "text/html", repr(email[:20])
        assert "Something went wrong" not in response.text


def test_odd_addresses_answer_a_404_page_not_a_500(client, demo):
    login(client, demo["student"])
    for url in ("/exercises/%00", "/exercises/" + "x" * 5000, "/exercises/%ED%A0%80",
                "/submissions/99999999999999999999", "/submissions/0", f"/exercises/{SLUG}/stub.exe",
                "/exercises/%00/stub.py", "/exercises/no-such-exercise/stub.py"):
        response = client.get(url)
        assert response.status_code == 404 and "Not found" in response.text, url[:40]


class UnreadableStream(io.RawIOBase):
    """A request body of ``size`` bytes that fails the test if the app reads any of it. The
    test client takes its Content-Length from seeking to the end."""

    def __init__(self, size: int):
        super().__init__()
        self.size, self.position, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:  # noqa: ANN001
        self.read_bytes += len(buffer)
        raise AssertionError("the app read a body larger than the cap")
