"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright.

``playwright install`` downloads browsers, which CI and this machine cannot do, so the
session's ``browser`` is the system Chromium at ``/usr/bin/chromium`` (``apt-get install
chromium fonts-noto-cjk``). Without it the browser tests are skipped, with that reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def snap(request: pytest.FixtureRequest) -> Callable[[object, str], Path]:
    """``snap(page, "step")`` saves a full-page screenshot as
    ``test-artifacts/screenshots/<test>-<step>.png``: the artefact a person looks at when a
    browser test fails, and the material of the visual review."""
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.originalname)

    def save(page, step: str) -> Path:  # noqa: ANN001
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{test}-{step}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return save
