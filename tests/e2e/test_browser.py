"""The site in a real browser (Chromium through Playwright) against the live service: waitress
on loopback and a real grading worker with the warm sandbox. Every page visited is saved as a
full-page screenshot under ``test-artifacts/screenshots/``.

These tests run on SQLite only: the back ends are covered by the integration tests, and a
browser per back end would double the slowest suite for nothing a browser can see.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest
from service_fixtures import add_user

from grader.store import accounts, submissions

ROOT = Path(__file__).resolve().parents[2]
SLUG = "none-grad-after-rebinding"
STUB = ROOT / "exercises" / SLUG / "stub.py"
SOLUTION = ROOT / "solutions" / f"{SLUG}.py"
SUBMISSION_URL = re.compile(r"/submissions/(\d+)$")
SUBMISSION_PAGE = re.compile(r"^http://[^/]+/submissions/\d+$")
TIMEOUT_MS = 30_000
REFRESH = re.compile(r'<meta http-equiv="refresh" content="\d+">')


@pytest.fixture(autouse=True)
def sqlite_only(request: pytest.FixtureRequest) -> None:
    """Skip the PostgreSQL parametrization before any fixture builds a schema for it."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        pytest.skip("browser tests run on SQLite only; PostgreSQL is covered by the integration tests")


@pytest.fixture
def context(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def sign_in(page, base: str, account, snap=None, step: str = "login"):  # noqa: ANN001, ANN201
    page.goto(f"{base}/login")
    if snap:
        snap(page, step)
    page.fill("input[name=email]", account.email)
    page.fill("input[name=password]", account.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/login" not in page.url, page.inner_text("main")
    return page


def half_fixed() -> str:
    """The reference solution that forgets to clear ``.grad``: the second trap of the exercise."""
    return "\n".join(line for line in SOLUTION.read_text().splitlines() if ".grad.zero_()" not in line)


class GradingPause:
    """Holds the database's write lock, so that the worker can neither claim nor finish a run
    meanwhile, while the pages keep reading (SQLite in WAL mode, ``BEGIN IMMEDIATE`` writers,
    30 s busy timeout). It makes the "waiting to be graded" state observable every time instead
    of racing a worker that grades in a fraction of a second."""

    def __init__(self, db) -> None:  # noqa: ANN001
        self.db, self._held = db, contextlib.ExitStack()

    def hold(self) -> None:
        self._held.enter_context(self.db.unit_of_work())

    def release(self) -> None:
        self._held.close()


def submit_and_pause(page, pause: GradingPause, submit) -> int:  # noqa: ANN001
    """Press submit and pause grading when the browser follows the redirect to the new
    submission's page: the server has stored it by then, and the worker (which needs a good
    fraction of a second to grade) cannot store a grade before the page is rendered. Returns
    the submission id; the browser is on its page, which shows it pending."""

    def pause_then_load(route) -> None:  # noqa: ANN001
        pause.hold()
        route.continue_()

    page.route(SUBMISSION_PAGE, pause_then_load, times=1)
    with page.expect_navigation(url=SUBMISSION_URL):
        submit()
    return int(SUBMISSION_URL.search(page.url).group(1))


def wait_until_graded(page) -> None:  # noqa: ANN001
    page.wait_for_selector("#result[data-status=graded]", timeout=TIMEOUT_MS)


def check_section(page, name: str):  # noqa: ANN001, ANN201
    return page.locator("section.check").filter(has=page.locator(".check-name", has_text=re.compile(f"^{name}$")))


def assert_fits(page, width: int = 390) -> None:  # noqa: ANN001
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, f"{page.url} is {wide}px wide on a {width}px screen"


def store_submission(live_service, email: str, filename: str, data: bytes) -> int:  # noqa: ANN001
    with live_service.db.unit_of_work() as session:
        user = accounts.user_by_email(session, email)
        accepted = submissions.submit(session, user, SLUG, filename, data, live_service.config.max_upload_bytes)
        return accepted.submission.id


def test_student_fixes_an_exercise_from_stub_to_full_marks(live_service, context, snap):  # noqa: ANN001
    base, student = live_service.url, live_service.accounts["student"]
    page = context.new_page()
    page.goto(f"{base}/")
    assert "/login" in page.url, "the home page asks for a sign-in first"
    sign_in(page, base, student, snap)
    assert page.url == f"{base}/"
    snap(page, "exercises")
    assert page.get_by_role("heading", name="Exercises", exact=True).is_visible()
    assert page.locator(".exercise-card").count() == 10
    assert "Not attempted yet" in page.locator(".exercise-card", has_text="None grad after rebinding").inner_text()

    page.get_by_role("link", name="None grad after rebinding").click()
    page.wait_for_url(f"**/exercises/{SLUG}")
    snap(page, "exercise")
    assert page.locator(".statement table").count() == 1, "the grading table of the statement is rendered"
    assert "No attempts yet." in page.locator("aside").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="Python file (.py)").click()
    assert download.value.suggested_filename == f"{SLUG}.py"
    assert Path(download.value.path()).read_bytes() == STUB.read_bytes()
    with page.expect_download() as download:
        page.get_by_role("link", name="Notebook (.ipynb)").click()
    notebook = json.loads(Path(download.value.path()).read_text())
    assert notebook["nbformat"] == 4 and notebook["cells"]

    pause = GradingPause(live_service.db)
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/api/v1/submissions/" in request.url else None)
    try:
        page.set_input_files("input[name=file]", str(STUB))
        first = submit_and_pause(page, pause, lambda: page.get_by_role("button", name="Submit for grading").click())
        assert page.locator("#result").get_attribute("data-status") in ("queued", "running")
        assert page.locator(".pending").is_visible()
        assert "This page updates by itself." in page.locator(".pending").inner_text()
        snap(page, "stub-pending")
    finally:
        pause.release()
    wait_until_graded(page)  # no reload from here: the page's script polls and reloads itself
    assert polls, "the pending page polled the API"
    assert page.url.endswith(f"/submissions/{first}")
    snap(page, "stub-graded")
    assert page.locator("#score").inner_text().split() == ["0", "/", "10", "points"]
    assert "0 of 4 checks passed" in page.locator(".score-line").inner_text()
    failing = check_section(page, "follows_gradient_descent")
    text = failing.inner_text()
    assert "Smallest failing input" in text and "steps = 2" in text
    assert "TypeError" in text
    assert "Hint:" in text and "in place" in failing.locator(".hint").inner_text()
    leaf = check_section(page, "returns_leaf_parameters").inner_text()
    assert "Got" in leaf and "non-leaf, grad_fn=SubBackward0" in leaf

    page.get_by_role("link", name="← None grad after rebinding").click()
    page.wait_for_url(f"**/exercises/{SLUG}")
    page.fill("textarea[name=source]", SOLUTION.read_text())
    snap(page, "exercise-pasted")
    with page.expect_navigation(url=SUBMISSION_URL):
        page.get_by_role("button", name="Submit for grading").click()
    second = int(SUBMISSION_URL.search(page.url).group(1))
    assert second != first
    wait_until_graded(page)
    snap(page, "solution-graded")
    assert page.locator("#score").inner_text().split() == ["10", "/", "10", "points"]
    assert "score-full" in page.locator("#score").get_attribute("class")
    assert page.locator("section.check.passed").count() == 4
    assert "4 of 4 checks passed" in page.locator(".score-line").inner_text()
    attempts = page.locator("table tbody tr")
    assert attempts.count() == 2 and "10 / 10" in attempts.nth(0).inner_text()

    page.goto(f"{base}/")
    snap(page, "exercises-after")
    card = page.locator(".exercise-card", has_text="None grad after rebinding").inner_text()
    assert "Best score: 10 / 10" in card and "2 attempts" in card


def test_submission_page_updates_itself_without_javascript(live_service, browser, snap):  # noqa: ANN001
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, live_service.url, live_service.accounts["student"], snap)
        page.goto(f"{live_service.url}/exercises/{SLUG}")
        snap(page, "exercise")
        page.fill("textarea[name=source]", SOLUTION.read_text())
        pause = GradingPause(live_service.db)
        loads: list[str] = []
        page.on("load", lambda loaded: loads.append(loaded.url))
        try:
            submit_and_pause(page, pause, lambda: page.get_by_role("button", name="Submit for grading").click())
            assert page.locator("#result").get_attribute("data-status") in ("queued", "running")
            assert REFRESH.search(page.content()), "the pending page refreshes itself without JavaScript"
            snap(page, "pending")
        finally:
            pause.release()
        wait_until_graded(page)
        assert len(loads) >= 2, "the page reloaded itself (meta refresh) until it was graded"
        snap(page, "graded")
        assert page.locator("#score").inner_text().split()[:3] == ["10", "/", "10"]
        assert not REFRESH.search(page.content()), "a graded page stops refreshing"
    finally:
        context.close()


def stub_and_solution_graded(live_service):  # noqa: ANN001, ANN201
    """The demo student's stub and fixed submissions, graded; (student, instructor)."""
    student, instructor = live_service.accounts["student"], live_service.accounts["instructor"]
    store_submission(live_service, student.email, "stub.py", STUB.read_bytes())
    store_submission(live_service, student.email, "fixed.py", SOLUTION.read_bytes())
    live_service.drain()
    return student, instructor


def test_instructor_sees_the_students_attempts_in_the_gradebook_and_its_csv(live_service, context, snap):  # noqa: ANN001
    student, instructor = stub_and_solution_graded(live_service)

    page = context.new_page()
    sign_in(page, live_service.url, instructor, snap)
    snap(page, "home")
    page.get_by_role("link", name="Gradebook").click()
    page.wait_for_url("**/instructor/gradebook**")
    snap(page, "gradebook")
    row = page.locator("table.gradebook tbody tr", has_text=student.email)
    assert row.count() == 1, page.inner_text("main")
    cell = row.locator("td.cell", has=page.locator("a[title$='at None grad after rebinding']"))
    assert cell.locator(".cell-best").inner_text() == "10"
    assert "2 attempts" in cell.locator(".cell-meta").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.url.endswith("/instructor/gradebook.csv?course=demo")
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    mine = [r for r in table if r["email"] == student.email]
    assert len(mine) == 1, table
    assert (mine[0][f"{SLUG}_best"], mine[0][f"{SLUG}_latest"], mine[0][f"{SLUG}_attempts"]) == ("10", "10", "2")
    assert mine[0]["total_best"] == "10"


def test_student_cannot_open_another_students_submission(live_service, browser, snap):  # noqa: ANN001
    first = live_service.accounts["student"]
    second = add_user(live_service.db, "second.student@example.com")
    own = browser.new_context(viewport={"width": 1280, "height": 900})
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = own.new_page()
        sign_in(page, live_service.url, first, snap, "login-first")
        page.goto(f"{live_service.url}/exercises/{SLUG}")
        snap(page, "exercise")
        page.fill("textarea[name=source]", STUB.read_text())
        with page.expect_navigation(url=SUBMISSION_URL):
            page.get_by_role("button", name="Submit for grading").click()
        submission_id = int(SUBMISSION_URL.search(page.url).group(1))
        snap(page, "owner")
        assert page.get_by_role("heading", name=re.compile(f"Submission {submission_id}")).is_visible()

        intruder = other.new_page()
        sign_in(intruder, live_service.url, second, snap, "login-second")
        response = intruder.goto(f"{live_service.url}/submissions/{submission_id}")
        snap(intruder, "not-found")
        assert response.status == 404
        assert "There is nothing here." in intruder.inner_text("main")
        assert "stub" not in intruder.content() and "fit(" not in intruder.content()
        api = intruder.request.get(f"{live_service.url}/api/v1/submissions/{submission_id}")
        assert api.status == 404
        assert api.json()["error"]["code"] == "not_found"
        assert page.request.get(f"{live_service.url}/api/v1/submissions/{submission_id}").status == 200
    finally:
        own.close()
        other.close()


def test_sign_out_button_on_every_page_signs_out(live_service, context, snap):  # noqa: ANN001
    base, student = live_service.url, live_service.accounts["student"]
    submission_id = store_submission(live_service, student.email, "stub.py", STUB.read_bytes())
    page = context.new_page()
    pages = {"exercises": "/", "exercise": f"/exercises/{SLUG}", "submission": f"/submissions/{submission_id}",
             "not-found": "/exercises/no-such-exercise"}
    for step, path in pages.items():
        sign_in(page, base, student, snap, f"{step}-login")
        page.goto(f"{base}{path}")
        snap(page, step)
        button = page.get_by_role("button", name="Sign out")
        assert button.is_visible()
        assert button.locator("xpath=ancestor::form").get_attribute("method") == "post"
        with page.expect_request(lambda request: request.url.endswith("/logout")) as sent:
            with page.expect_navigation(url=re.compile(r"/login")):
                button.click()
        assert sent.value.method == "POST"
        snap(page, f"{step}-signed-out")
        assert "You are signed out." in page.inner_text("main")
        page.goto(f"{base}/")
        snap(page, f"{step}-home-after")
        assert re.search(r"/login(\?next=%2F)?$", page.url), page.url
        assert page.get_by_role("button", name="Sign out").count() == 0


def test_student_pages_fit_a_phone_screen(live_service, browser, snap):  # noqa: ANN001
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, live_service.url, live_service.accounts["student"], snap)
        snap(page, "exercises")
        assert_fits(page)
        page.goto(f"{live_service.url}/exercises/{SLUG}")
        snap(page, "exercise")
        assert_fits(page)
        assert page.get_by_role("link", name="Submit your fix ↓").is_visible(), "a shortcut past the long statement"
        page.fill("textarea[name=source]", half_fixed())
        with page.expect_navigation(url=SUBMISSION_URL):
            page.get_by_role("button", name="Submit for grading").click()
        wait_until_graded(page)
        snap(page, "graded")
        assert_fits(page)
        failing = check_section(page, "follows_gradient_descent").inner_text()
        for label in ("Smallest failing input", "Expected", "Got", "Hint:"):
            assert label in failing
        assert "pile up" in failing
    finally:
        context.close()
