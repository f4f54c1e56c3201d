"""The question page in a real browser (Debian's Chromium driven by Playwright).

Starts the real server (`rag serve`, real model, real seeds, a temporary index), then asks
questions the way a person would. Set RAG_BROWSER_BASE_URL to test an already-running server
instead. Screenshots land in artifacts/screenshots/ as run artefacts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright  # noqa: E402

from tests.devserver import running_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium phones home and the closed network
# refuses it; --no-sandbox because CI runs as root in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 300  # first start builds the index with the real model
ANSWER_TIMEOUT_MS = 60_000
FINISHED = re.compile(r"\b(answered|abstained)\b")  # classes of an answer done streaming
ABSTAINED = re.compile(r"\babstained\b")

WHERE = "Where will NATO's new command for coordinating military aid to Ukraine be based?"
WHAT = "What new command is NATO setting up to coordinate aid to Ukraine?"
HOW_MANY = "How many personnel will staff it?"
UNANSWERABLE = "Who won the 2022 football World Cup?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium not found at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


# ---------- server and browser ----------


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    existing = os.environ.get("RAG_BROWSER_BASE_URL")
    if existing:
        yield existing.rstrip("/")
        return
    work = tmp_path_factory.mktemp("browser-server")
    env = {
        "RAG_INDEX_DIR": str(work / "index"),
        "RAG_SEEDS_DIR": str(ROOT / "seeds"),
        "RAG_API_KEY": None,  # the page is tested without auth; the key path is mocked
    }
    # With the access log: a failure's log tail then shows the requests the page made.
    with running_server(work / "server.log", env, timeout=STARTUP_TIMEOUT_S, extra_args=()) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(ANSWER_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    violations = watch_csp(tab)
    tab.goto(f"{base_url}/")
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


def watch_csp(tab: Page) -> list[str]:
    """Chromium reports each Content-Security-Policy violation as a console error."""
    violations: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(message.text)

    tab.on("console", on_console)
    return violations


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


# ---------- page helpers ----------


def ask(page: Page, question: str) -> Any:
    """Types a question, presses Enter and waits until its answer has finished streaming."""
    answers = page.locator(".turn.assistant")
    before = answers.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    expect(answers).to_have_count(before + 1)
    latest = answers.nth(before)
    expect(latest).to_have_class(FINISHED)
    expect(page.locator("#log")).to_have_attribute("aria-busy", "false")
    return latest


def api_answer(base_url: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "nato-rag", "messages": messages, "stream": False},
        timeout=60,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


# ---------- tests against the real server ----------


def test_answer_cites_and_opens_the_highlighted_passage(page: Page, base_url: str) -> None:
    page.evaluate(
        """() => {
          window.__busy = [];
          new MutationObserver(() => window.__busy.push([
            document.getElementById('log').getAttribute('aria-busy'),
            document.getElementById('submit').disabled,
          ])).observe(document.getElementById('log'), {attributes: true});
        }"""
    )
    answer = ask(page, WHERE)
    expect(answer).to_contain_text("Wiesbaden")
    expect(answer).not_to_have_class(ABSTAINED)
    # While streaming, the log was busy and the submit button disabled.
    assert ["true", True] in page.evaluate("window.__busy")
    expect(page.locator("#submit")).to_be_enabled()

    expected = api_answer(base_url, [{"role": "user", "content": WHERE}])["rag_citations"]
    assert expected, "the API should cite a passage for this question"
    first = expected[0]
    marker = answer.locator("button.cite").first
    expect(marker).to_have_text(f"[{first['marker']}]")

    # Keyboard only: focus the marker and press Enter.
    marker.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    mark = panel.locator("mark")
    expect(mark).to_have_count(1)
    expect(mark).to_have_text(first["quote"])
    expect(mark).to_be_in_viewport()
    expect(panel.locator("#panel-title")).to_have_text(first["title"])
    document = (
        httpx.get(f"{base_url}/documents/{first['doc_id']}", timeout=30).raise_for_status().json()
    )
    if document.get("outlet"):
        expect(panel.locator("#panel-meta")).to_contain_text(document["outlet"])
    # The highlighted text sits at the cited offsets inside the full article.
    full_text = panel.locator("#panel-text").inner_text()
    assert "Wiesbaden" in full_text
    assert document["text"][first["start"] : first["end"]] == first["quote"]
    _screenshot(page, "answer-with-source-wide")

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('cite')")

    # The numbered source list under the answer opens the same passage; the close button
    # hands focus back to it.
    source = answer.locator("button.source").first
    expect(source).to_contain_text(first["title"])
    source.click()
    expect(mark).to_have_text(first["quote"])
    page.get_by_role("button", name="Close the source panel").click()
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('source')")

    # Narrow screen: the panel covers the full width.
    page.set_viewport_size({"width": 390, "height": 844})
    _screenshot(page, "answer-narrow")
    marker.click()
    expect(mark).to_be_in_viewport()
    box = panel.bounding_box()
    assert box is not None and box["width"] == 390
    _screenshot(page, "source-panel-narrow")
    # The page behind the overlay is inert until the panel closes; focus then returns.
    assert page.evaluate("document.querySelector('.layout').inert") is True
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(marker).to_be_focused()


def test_follow_up_sends_the_conversation(page: Page) -> None:
    ask(page, WHAT)
    with page.expect_request("**/v1/chat/completions") as request_info:
        answer = ask(page, HOW_MANY)
    expect(answer).to_contain_text("700")
    sent = json.loads(request_info.value.post_data or "{}")
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][0]["content"] == WHAT
    assert sent["stream"] is True
    _screenshot(page, "follow-up-wide")

    # "New conversation" clears the log and the history sent with the next question.
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#log .turn")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    with page.expect_request("**/v1/chat/completions") as request_info:
        ask(page, WHERE)
    sent = json.loads(request_info.value.post_data or "{}")
    assert len(sent["messages"]) == 1


def test_unanswerable_question_shows_the_abstention_state(page: Page) -> None:
    answer = ask(page, UNANSWERABLE)
    expect(answer).to_have_class(ABSTAINED)
    expect(answer.locator(".abstain-title")).to_have_text("Not in the articles")
    expect(answer).to_contain_text("don't say")
    expect(answer.locator("button.cite")).to_have_count(0)
    expect(answer.locator(".sources")).to_have_count(0)
    _screenshot(page, "abstained-wide")


def test_empty_question_is_stopped_in_the_page(page: Page) -> None:
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    box = page.get_by_label("Your question")
    box.fill("   ")
    box.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Please type a question")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_be_focused()
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(alert).to_contain_text("Please type a question")
    assert posted == []
    _screenshot(page, "empty-question")
    # Typing clears the message.
    box.fill("W")
    expect(alert).to_be_hidden()


def test_server_rejection_and_network_failure_are_explained(page: Page) -> None:
    box = page.get_by_label("Your question")
    alert = page.get_by_role("alert")

    # A real 422 from the server: the question is longer than the server allows.
    too_long = "Why " + "really " * 400 + "?"
    box.fill(too_long)
    box.press("Enter")
    expect(alert).to_contain_text("limit")
    expect(page.locator("#log .turn")).to_have_count(0)
    expect(box).to_have_value(too_long.strip())  # given back for editing

    # The server unreachable: fetch fails.
    page.route("**/v1/chat/completions", lambda route: route.abort("connectionrefused"))
    box.fill(WHERE)
    box.press("Enter")
    expect(alert).to_contain_text("Could not reach the answer service")
    expect(box).to_have_value(WHERE)
    expect(page.locator("#submit")).to_be_enabled()

    # A 500 with a non-JSON body: no raw body or stack trace reaches the page.
    page.unroute("**/v1/chat/completions")
    page.route(
        "**/v1/chat/completions",
        lambda route: route.fulfill(status=500, body="Traceback (most recent call last): ..."),
    )
    box.press("Enter")
    expect(alert).to_contain_text("had a problem")
    expect(alert).not_to_contain_text("Traceback")


# ---------- page logic with a canned stream (no model involved) ----------

# The quote occurs twice and the second one is cited: a code-unit offset bug (or falling back
# to the first occurrence) highlights the wrong place. Astral characters sit before both.
ASTRAL_TEXT = (
    "Intro 🇺🇦 line. The cited sentence is here.\n\n"
    "More 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text. The cited sentence is here. After 😀 it."
)
QUOTE = "The cited sentence is here."


def _cited_span() -> tuple[int, int]:
    start = ASTRAL_TEXT.rindex(QUOTE)  # Python offsets: code points, as the server sends them
    return start, start + len(QUOTE)


def _canned_stream(route: Route) -> None:
    start, end = _cited_span()
    citation = {
        "marker": 1,
        "doc_id": "astral.txt",
        "title": "Astral test article",
        "date": "2024-07-01",
        "start": start,
        "end": end,
        "quote": QUOTE,
        "score": 1.0,
    }
    pieces = [{"role": "assistant"}, {"content": "The cited "}, {"content": "sentence. [1]"}]
    events = [
        {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d}]} for d in pieces
    ]
    events.append(
        {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "rag_citations": [citation],
            "abstained": False,
        }
    )
    body = "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events) + "data: [DONE]\r\n\r\n"
    route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)


def _canned_document(route: Route) -> None:
    document = {
        "doc_id": "astral.txt",
        "title": "Astral test article",
        "outlet": "Test Outlet",
        "date": "2024-07-01",
        "length": len(ASTRAL_TEXT),
        "text": ASTRAL_TEXT,
    }
    route.fulfill(status=200, content_type="application/json", body=json.dumps(document))


def test_offsets_count_code_points_and_api_key_is_sent(page: Page) -> None:
    assert len(ASTRAL_TEXT) != len(ASTRAL_TEXT.encode("utf-16-le")) // 2  # really astral
    page.evaluate("localStorage.setItem('ragApiKey', 'secret-test-key')")
    page.route("**/v1/chat/completions", _canned_stream)
    page.route("**/documents/astral.txt", _canned_document)
    with page.expect_request("**/v1/chat/completions") as request_info:
        answer = ask(page, "Anything?")
    assert request_info.value.headers.get("authorization") == "Bearer secret-test-key"
    expect(answer.locator(".answer-text")).to_have_text("The cited sentence. [1]")
    with page.expect_request("**/documents/astral.txt") as doc_request:
        answer.locator("button.cite").click()
    assert doc_request.value.headers.get("authorization") == "Bearer secret-test-key"
    expect(page.locator("#source-panel mark")).to_have_text(QUOTE)
    before = page.evaluate("document.querySelector('#panel-text mark').previousSibling.data")
    assert before == ASTRAL_TEXT[: _cited_span()[0]]
    expect(page.locator("#panel-meta")).to_contain_text("Test Outlet")


def test_the_api_docs_render_offline_under_the_csp(browser: Browser, base_url: str) -> None:
    """/docs loads Swagger UI from the server itself (no CDN) and runs under the same CSP."""
    context = browser.new_context()
    outside: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:  # an offline machine has no CDN: fail the request and remember it
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    violations = watch_csp(tab)
    try:
        response = tab.goto(f"{base_url}/docs")
        assert response is not None and "frame-ancestors 'none'" in (
            response.headers.get("content-security-policy", "")
        )
        expect(tab.locator(".swagger-ui .info .title")).to_contain_text("NATO aid to Ukraine")
        expect(tab.locator(".opblock-summary-path").first).to_be_visible()
        expect(tab.get_by_text("/v1/chat/completions").first).to_be_visible()
        _screenshot(tab, "api-docs")
    finally:
        context.close()
    assert not outside, f"/docs requested other origins: {outside}"
    assert not errors and not violations, (errors, violations)
