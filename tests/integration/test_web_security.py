"""Security of the web app and the API, on both database back ends: other people's work is
404, hidden checks stay hidden, cookies and sessions are hardened, logout is a POST with a
CSRF token, and the web process never runs student code."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from service_fixtures import add_user, csrf_token, login, make_token

from grader.queue.worker import Worker
from grader.store.models import CheckRow, GradingRun, Submission
from grader.web import create_app

SLUG = "none-grad-after-rebinding"
ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("secret-hint-7f3a", "secret-message-7f3a", "secret-expected-7f3a", "secret-got-7f3a",
           "secret_input_7f3a", "secret-description-7f3a")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit_through_form(client, source: bytes, filename: str = "fix.py") -> int:  # noqa: ANN001
    token = csrf_token(client.get(f"/exercises/{SLUG}").text)
    response = client.post(f"/exercises/{SLUG}/submit", data={"csrf_token": token,
                                                              "file": (io.BytesIO(source), filename)})
    assert response.status_code == 303, response.text
    return int(response.location.rstrip("/").rsplit("/", 1)[1])


def grade_and_hide_a_check(db, bank, sandbox, service_config, submission_id: int) -> str:  # noqa: ANN001
    """Grade the queue, then make the first failed check of the grade a hidden one whose every
    detail is a secret (the bank has no ``visible=False`` check of its own). Returns its name."""
    worker = Worker(service_config, db, bank, sandbox)
    while worker.run_once():
        pass
    with db.unit_of_work() as session:
        (run,) = session.query(GradingRun).filter_by(submission_id=submission_id).all()
        result = copy.deepcopy(run.result)
        index, check = next((i, c) for i, c in enumerate(result["checks"]) if c["verdict"] != "passed")
        check.update(visible=False, hint=SECRETS[0], message=SECRETS[1], expected=SECRETS[2], got=SECRETS[3],
                     counterexample={SECRETS[4]: 1}, description=SECRETS[5], output=SECRETS[1])
        run.result = result
        session.query(CheckRow).filter_by(run_id=run.id, position=index).update({"visible": False})
        return check["name"]


# ----------------------------------------------------------------------------- other people's work
def test_student_cannot_open_another_students_submission(app, client, demo, db, bank):
    login(client, demo["student"])
    theirs = submit_through_form(client, bank.exercise(SLUG).stub_path.read_bytes())
    intruder = add_user(db, "intruder@example.org")
    other = app.test_client()
    login(other, intruder)

    page = other.get(f"/submissions/{theirs}")
    missing = other.get("/submissions/987654")
    assert page.status_code == missing.status_code == 404  # not 403: nothing says the id exists
    assert page.text == missing.text

    token = make_token(db, intruder.email)
    api = other.get(f"/api/v1/submissions/{theirs}", headers=bearer(token))
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    assert other.get(f"/api/v1/submissions/{theirs}").status_code == 404  # with the session cookie too
    assert client.get(f"/submissions/{theirs}").status_code == 200  # the owner still sees it


def test_student_page_never_shows_hidden_check_details(client, demo, db, bank, sandbox, service_config):
    login(client, demo["student"])
    submission_id = submit_through_form(client, bank.exercise(SLUG).stub_path.read_bytes())
    name = grade_and_hide_a_check(db, bank, sandbox, service_config, submission_id)

    page = client.get(f"/submissions/{submission_id}")
    assert page.status_code == 200 and name in page.text
    assert "This check is hidden: only its verdict is shown." in page.text
    api = client.get(f"/api/v1/submissions/{submission_id}")
    assert api.status_code == 200 and name in api.text
    for secret in SECRETS:
        assert secret not in page.text and secret not in api.text

    teacher = make_token(db, demo["instructor"].email)
    full = client.get(f"/api/v1/submissions/{submission_id}", headers=bearer(teacher)).text
    assert all(secret in full for secret in SECRETS)


# ----------------------------------------------------------------------------- cookies and sessions
def session_cookie_header(response) -> str:  # noqa: ANN001
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_http(client, demo):
    header = session_cookie_header(login(client, demo["student"]))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header


def test_session_cookie_is_secure_when_secure_cookies_is_set(service_config, db, demo):
    client = create_app(service_config.replace(secure_cookies=True), db).test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                           data={"email": demo["student"].email, "password": demo["student"].password,
                                 "csrf_token": csrf_token(page.text)})  # over HTTPS, CSRF checks the referrer
    assert response.status_code == 302
    header = session_cookie_header(response)
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header


def test_sign_in_starts_a_new_session_so_a_planted_one_is_worthless(app, client, demo):
    client.get("/login")
    planted = client.get_cookie("session").value
    login(client, demo["student"])
    assert client.get_cookie("session").value != planted
    assert client.get("/").status_code == 200

    victim_of_fixation = app.test_client()  # whoever planted the cookie is still signed out
    victim_of_fixation.set_cookie("session", planted)
    response = victim_of_fixation.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_a_session_cookie_taken_to_another_browser_is_signed_out(app, demo):
    owner = app.test_client()
    owner.environ_base["HTTP_USER_AGENT"] = "Firefox/140.0"
    login(owner, demo["student"])
    assert owner.get("/").status_code == 200

    thief = app.test_client()
    thief.environ_base["HTTP_USER_AGENT"] = "curl/8.0"
    thief.set_cookie("session", owner.get_cookie("session").value)
    response = thief.get("/")  # session_protection="strong": another browser's identifier
    assert response.status_code == 302 and "/login" in response.location


def test_logout_is_a_post_with_a_csrf_token(client, demo):
    login(client, demo["student"])
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200, "GET /logout signed the user out"

    refused = client.post("/logout")
    assert refused.status_code == 400 and "Form expired" in refused.text
    assert client.get("/").status_code == 200

    token = csrf_token(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and "/login" in response.location
    after = client.get("/")
    assert after.status_code == 302 and "/login" in after.location


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_the_site(client, demo, target):
    page = client.get("/login", query_string={"next": target})
    response = client.post("/login", query_string={"next": target}, data={
        "email": demo["student"].email, "password": demo["student"].password, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.location == "/"


def test_api_error_pages_carry_no_stack_trace(client):
    response = client.post("/api/v1/submissions", headers=bearer("tg_nope"), data=b"{", content_type="application/json")
    assert response.status_code == 401 and "Traceback" not in response.text


# ----------------------------------------------------------------------------- no student code in the web
WEB_PROCESS = textwrap.dedent('''
    import io, json, os, re, sys
    from pathlib import Path
    from grader.config import Config
    from grader.store.db import Database
    from grader.web import create_app

    args = json.loads(sys.argv[1])
    config = Config(instance_path=Path(args["instance"]), database_url=args["database_url"], testing=True,
                    ratelimit_enabled=False)
    client = create_app(config, Database(args["database_url"])).test_client()
    source = args["source"].encode()
    api = client.post("/api/v1/submissions", headers={"Authorization": "Bearer " + args["token"]},
                      data={"exercise": args["slug"], "file": (io.BytesIO(source), "evil.py")})
    page = client.get("/login")
    token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"email": args["email"], "password": args["password"], "csrf_token": token})
    token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"',
                      client.get("/exercises/" + args["slug"]).text).group(1)
    form = client.post("/exercises/" + args["slug"] + "/submit",
                       data={"csrf_token": token, "file": (io.BytesIO(source), "evil.py")})
    shown = [client.get(api.get_json()["url"]).status_code, client.get(form.location).status_code]
    children = [pid for task in os.listdir("/proc/self/task")
                for pid in open(f"/proc/self/task/{task}/children").read().split()]
    print(json.dumps({
        "statuses": [api.status_code, form.status_code] + shown,
        "sandbox_imported": sorted(m for m in sys.modules if m in (
            "grader.sandbox.client", "grader.sandbox.launcher", "grader.sandbox.zygote", "grader.sandbox.layers")),
        "grading_imported": "grader.engine.grading" in sys.modules,
        "children": children,
        "marker": os.path.exists(args["marker"]),
    }))
''')


def test_web_process_never_runs_student_code(db, demo, bank, sandbox, service_config, tmp_path):
    marker = tmp_path / "student-code-ran"
    source = f"open({str(marker)!r}, 'w').write('ran')\nimport os\nos.system('touch {marker}')\n"
    args = {"instance": str(tmp_path / "web-instance"), "database_url": service_config.database_url,
            "token": make_token(db, demo["student"].email), "slug": SLUG, "source": source,
            "email": demo["student"].email, "password": demo["student"].password, "marker": str(marker)}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", WEB_PROCESS, json.dumps(args)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [202, 303, 200, 200]
    assert report["sandbox_imported"] == [] and report["grading_imported"] is False
    assert report["children"] == [] and report["marker"] is False and not marker.exists()
    with db.reading() as session:
        assert [run.status for run in session.query(GradingRun).all()] == ["queued", "queued"]
        assert {s.content for s in session.query(Submission).all()} == {source.encode()}

    worker = Worker(service_config, db, bank, sandbox)  # only a worker runs it, inside the sandbox
    assert worker.run_once() and worker.run_once() and not worker.run_once()
    with db.reading() as session:
        assert {run.status for run in session.query(GradingRun).all()} <= {"graded", "failed"}
    assert not marker.exists(), "the sandbox let student code write outside its scratch folder"
