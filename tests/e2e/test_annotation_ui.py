"""The web UI in a real browser: Debian's chromium driven by Playwright signs in as an
annotator, rates a record and submits; the pull API then reads that exact answer back."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import pytest

from tests.integration.argilla.candidates import candidates
from zephyr_integrations.argilla_stack import Connection, LocalStack
from zephyr_integrations.preferences.argilla.aggregate import aggregate
from zephyr_integrations.preferences.argilla.pull import pull_dataset
from zephyr_integrations.preferences.argilla.push import push_candidates
from zephyr_integrations.preferences.argilla.roles import create_annotator
from zephyr_integrations.preferences.argilla.templates import RatingTemplate

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_annotator_rates_in_the_browser_and_pull_reads_it_back(
    argilla_stack: tuple[LocalStack, Connection], owner: Any
) -> None:
    from playwright.sync_api import sync_playwright

    if shutil.which("chromium") is None:
        pytest.fail(
            "chromium is not installed (apt-get install -y chromium; scripts/setup does it)"
        )
    _, connection = argilla_stack
    rows = candidates(1, 2, tag="ui ")
    push_candidates(
        owner,
        rows,
        dataset="ui-rating",
        template=RatingTemplate(responses=2),
        workspace="ws-ui",
        create_workspace=True,
    )
    annotator = create_annotator(owner, "ui-annotator", "ws-ui")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                ],
                viewport={"width": 1280, "height": 900},
            )
            page = browser.new_page()
            page.goto(f"{connection.api_url}/sign-in")
            page.locator("input[type=text]").first.fill(annotator.username)
            page.locator("input[type=password]").fill(annotator.password.get_secret_value())
            page.locator("button[type=submit]").click()
            page.wait_for_url(f"{connection.api_url}/")
            page.get_by_text("ui-rating").first.click()  # the dataset card on the home page
            page.get_by_text("Response 1: overall (1-5)").wait_for()
            page.locator("label[for=overall_1_4]").click()
            page.locator("label[for=overall_2_2]").click()
            with page.expect_response(
                lambda r: "/responses" in r.url and r.request.method == "POST"
            ) as sent:
                page.get_by_role("button", name="Submit").click()
            assert sent.value.status == 201
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    pulled = pull_dataset(owner, "ui-rating", workspace="ws-ui")
    (record,) = pulled.records
    (answer,) = record.answers
    assert (answer.username, answer.status) == ("ui-annotator", "submitted")
    assert answer.values == {"overall_1": 4, "overall_2": 2}
    (row,) = aggregate(pulled).rows
    expected = {record.models[0]: 4.0, record.models[1]: 2.0}
    assert {c["model"]: c["score"] for c in row["completions"]} == expected
