"""Browser tests: headless Debian Chromium driven by Playwright's sync API against pytest-django's
live_server (which serves /static/ from the finders, so CSS and JS load without collectstatic).

Every page opened through `new_page` reports console errors, uncaught exceptions and failed
sub-resources; a test that produced any fails at teardown. On failure each page is saved as a
screenshot under test-results/.
"""

import os
import re
import uuid
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-results"
DEFAULT_TIMEOUT_MS = 10_000


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (set PRM_CHROMIUM); browser tests need it.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; Django refuses ORM calls from a
    # thread with a running loop unless told otherwise. The test code itself is synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_problems():
    """Console errors, page exceptions and failed sub-resources seen by any page of the test."""
    return []


@pytest.fixture
def expected_http_errors():
    """URLs a test opens on purpose knowing they answer 4xx (e.g. a used invitation link: 410)."""
    return set()


@pytest.fixture
def new_page(request, browser, browser_problems, expected_http_errors):
    """Factory: a page in a fresh browser context (own cookies), e.g. one per person in a journey."""
    pages = []

    def ignored(url: str) -> bool:
        return url in expected_http_errors

    def on_console(label, msg):
        if msg.type == "error" and not ignored(msg.location.get("url", "")):
            browser_problems.append(f"{label} console error: {msg.text} ({msg.location.get('url')})")

    def on_response(label, response):
        if response.status >= 400 and not ignored(response.url):
            browser_problems.append(f"{label} HTTP {response.status}: {response.url}")

    def make(**context_options):
        context = browser.new_context(**context_options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page = context.new_page()
        label = f"page {len(pages) + 1}"
        page.on("console", lambda msg: on_console(label, msg))
        page.on("pageerror", lambda exc: browser_problems.append(f"{label} uncaught: {exc}"))
        page.on("requestfailed", lambda req: browser_problems.append(f"{label} failed: {req.url} ({req.failure})"))
        page.on("response", lambda response: on_response(label, response))
        pages.append(page)
        return page

    yield make

    failed = any(
        getattr(request.node, f"rep_{when}", None) and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        RESULTS_DIR.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        for index, page in enumerate(pages, start=1):
            try:
                page.screenshot(path=str(RESULTS_DIR / f"{stem}-{index}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 - a closed page must not hide the real failure
                print(f"screenshot of page {index} failed: {exc}")
    for page in pages:
        page.context.close()
    if browser_problems and not failed:
        pytest.fail("The browser reported problems:\n" + "\n".join(browser_problems))


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker thread on the real Redis broker, consuming a queue of its own.

    Tasks are routed to a fresh queue for the duration of the test so the worker neither eats
    messages other test runs left on the shared broker nor leaves its own behind.
    """
    from celery.contrib.testing.worker import start_worker

    from prm.celery import app

    queue = f"prm-test-{uuid.uuid4().hex}"
    old_routes = app.conf.task_routes
    app.conf.update(task_routes={"prm.tasks.*": {"queue": queue}})
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=30) as worker:
            yield worker
    finally:
        app.conf.update(task_routes=old_routes)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
