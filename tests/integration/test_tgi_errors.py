"""The project's error family as a LangChain user targets it, against the TGI-protocol server."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator

import pytest

from zephyr_integrations import (
    ChatZephyr,
    ZephyrAuthenticationError,
    ZephyrConnectionError,
    ZephyrError,
    ZephyrOverloadedError,
    ZephyrValidationError,
)
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer


@pytest.fixture
def server() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(), max_input_tokens=30, max_total_tokens=40) as running:
        yield running


def free_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def chat(url: str, **kwargs: object) -> ChatZephyr:
    options: dict[str, object] = {"max_tokens": 5, "max_retries": 0, "timeout": 10}
    return ChatZephyr(backend="tgi", base_url=url, **(options | kwargs))


def generations(server: TGIServer) -> int:
    return sum(r.method == "POST" and r.path != "/tokenize" for r in server.requests)


def test_with_retry_targets_the_overloaded_error(server: TGIServer) -> None:
    server.fail_next(2, status=429)
    llm = chat(server.url)
    with pytest.raises(ZephyrOverloadedError):
        llm.invoke("hello")
    retrying = llm.with_retry(
        retry_if_exception_type=(ZephyrOverloadedError,),
        stop_after_attempt=3,
        wait_exponential_jitter=False,
    )
    assert retrying.invoke("hello").content
    assert generations(server) == 3


def test_with_retry_does_not_retry_what_it_does_not_target(server: TGIServer) -> None:
    retrying = chat(server.url, max_tokens=39).with_retry(
        retry_if_exception_type=(ZephyrOverloadedError,), stop_after_attempt=3
    )
    with pytest.raises(ZephyrValidationError, match="max_new_tokens") as error:
        retrying.invoke("hello")
    assert generations(server) == 1
    assert isinstance(error.value, ValueError)
    assert error.value.status == 422
    assert error.value.server_message is not None
    assert error.value.server_message.startswith("Input validation error: ")


def test_with_fallbacks_handles_a_refused_connection(server: TGIServer) -> None:
    dead = chat(free_url())
    llm = dead.with_fallbacks([chat(server.url)], exceptions_to_handle=(ZephyrConnectionError,))
    assert llm.invoke("hello there").content
    only_overload = dead.with_fallbacks(
        [chat(server.url)], exceptions_to_handle=(ZephyrOverloadedError,)
    )
    with pytest.raises(ZephyrConnectionError):
        only_overload.invoke("hello there")


def test_the_url_is_named_once_and_the_builtins_still_catch() -> None:
    url = free_url()
    with pytest.raises(ConnectionError) as error:
        chat(url).invoke("hi")
    assert isinstance(error.value, ZephyrConnectionError)
    assert str(error.value).count(url.removeprefix("http://")) == 1
    assert error.value.url is not None and error.value.url.startswith(url)


def test_authentication_is_its_own_kind() -> None:
    with TGIServer(ScriptedBackend(), api_key="right-key") as server:
        with pytest.raises(ZephyrAuthenticationError, match="401") as error:
            chat(server.url, api_key="wrong-key").invoke("hi")
        assert isinstance(error.value, PermissionError)
        assert "wrong-key" not in str(error.value)


def test_errors_survive_pickling(server: TGIServer) -> None:
    server.fail_next(1, status=429)
    with pytest.raises(ZephyrError) as error:
        chat(server.url).invoke("hi")
    copy = pickle.loads(pickle.dumps(error.value))
    assert type(copy) is type(error.value)
    assert (str(copy), copy.url, copy.status) == (
        str(error.value),
        f"{server.url}/generate",
        429,
    )
