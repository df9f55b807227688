"""Secrets never reach a validation error, a repr or a message: `api_key` values and URL
passwords (shown as `user:***@host`)."""

from __future__ import annotations

from typing import Any

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.redact import redact_text, redact_url

KEY = "sk-planted-SECRET-0123"
PASSWORD = "pw-planted-SECRET-4567"
URL = f"http://me:{PASSWORD}@127.0.0.1:1"


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": -1},
        {"max_tokens": 0},
        {"top_p": 1.5},
        {"stop": ["ok", ""]},
        {"max_retries": -1},
        {"backend": "nope"},
        {"backend_kwargs": {"no_such_option": 1}},
        {"base_url": f"ftp://me:{PASSWORD}@host"},
    ],
)
def test_validation_errors_hold_no_api_key_nor_url_password(bad: dict[str, Any]) -> None:
    options: dict[str, Any] = {"backend": "tgi", "base_url": URL, "api_key": KEY, **bad}
    with pytest.raises((ValueError, TypeError)) as caught:
        ChatZephyr(**options)
    message = str(caught.value)
    assert KEY not in message and PASSWORD not in message, message


def test_reprs_show_the_url_user_but_not_its_password() -> None:
    llm = ChatZephyr(backend="tgi", base_url=URL, api_key=KEY)
    for shown in (repr(llm), str(llm), repr(llm._backend)):
        assert KEY not in shown and PASSWORD not in shown
        assert "me:***@127.0.0.1:1" in shown


def test_redaction_helpers() -> None:
    assert redact_url(URL) == "http://me:***@127.0.0.1:1"
    assert redact_url("http://127.0.0.1:1/x") == "http://127.0.0.1:1/x"
    assert redact_url("https://token@host/p") == "https://token@host/p"  # no password part
    text = f"tgi:{URL},api_key={KEY},temperature=-1 and Bearer {KEY} and password: hunter22"
    masked = redact_text(text)
    assert KEY not in masked and PASSWORD not in masked and "hunter22" not in masked
    assert "tgi:http://me:***@127.0.0.1:1,api_key=***,temperature=-1" in masked
    assert redact_text("max_tokens=5 token budget", ["zzz"]) == "max_tokens=5 token budget"
    assert redact_text(f"key {KEY}!", [KEY]) == "key ***!"
