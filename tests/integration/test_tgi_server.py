"""TGIServer: TGI's protocol over real loopback sockets, with the scripted and tiny backends.

Every body sent and received is checked against TGI's OpenAPI spec (``shared/tgi/openapi.json``)
where the spec is right, and against TGI's real behaviour (``shared/notes/tgi-protocol.md``)
where it is not; those places say so.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.tgi_contract import SPEC_PATH, Contract, get, load_contract, post
from zephyr_integrations.backends.base import GenerationParams, GenerationRequest
from zephyr_integrations.serving.tgi_bodies import compact
from zephyr_integrations.template import format_messages
from zephyr_integrations.testing.scripted_backend import ScriptedBackend, word_id
from zephyr_integrations.testing.tgi_server import TGIServer

REPLY = "Paris is the capital of France."  # 6 words: 6 tokens, then EOS
EOS_TOKEN = {"id": 2, "text": "</s>", "logprob": 0.0, "special": True}
CHAT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend(model="scripted-zephyr", reply=REPLY)


@pytest.fixture
def server(backend: ScriptedBackend) -> Iterator[TGIServer]:
    with TGIServer(backend) as running:
        yield running


@pytest.fixture(scope="session")
def contract() -> Contract:
    pytest.importorskip("jsonschema", reason="contract tests validate with jsonschema")
    loaded = load_contract()
    if loaded is None:
        pytest.skip(f"TGI's OpenAPI spec is not at {SPEC_PATH} (shared/ beside the repository)")
    return loaded


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub as a user would run it against a local server: online, no token."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # blocks even loopback otherwise
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    for name in (
        "HF_HUB_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HUGGINGFACEHUB_API_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_path: Path) -> Any:
    from zephyr_integrations.backends.transformers import TransformersBackend

    return TransformersBackend(str(tiny_model_path), dtype="float32")


def generate(server: TGIServer, contract: Contract, parameters: dict[str, Any], *,
             inputs: str = "Hello there", path: str = "/generate") -> Any:  # fmt: skip
    body = {"inputs": inputs, "parameters": parameters}
    contract.request(path, body)
    reply = post(server.url, path, body)
    assert reply.status == 200, reply.body
    return reply.json


def stream(server: TGIServer, contract: Contract | None, body: dict[str, Any],
           path: str = "/generate_stream") -> list[Any]:  # fmt: skip
    reply = post(server.url, path, body)
    assert (reply.status, reply.content_type) == (200, "text/event-stream")
    events = reply.json_events()
    if contract is not None:
        for event in events:
            contract.response("POST", path, 200, "text/event-stream", event)
    return events


def assert_error(
    reply: Any, status: int, error_type: str, message: str, contract: Contract
) -> None:
    assert (reply.status, reply.content_type) == (status, "application/json"), reply.body
    assert reply.json == {"error": message, "error_type": error_type}
    contract.component("ErrorResponse", reply.json)


# -- contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("details", [False, True])
def test_generate_contract(server: TGIServer, contract: Contract, details: bool) -> None:
    reply = post(
        server.url, "/generate", {"inputs": "Hello there", "parameters": {"details": details}}
    )
    contract.response("POST", "/generate", 200, "application/json", reply.json)
    assert reply.json["generated_text"] == REPLY
    # The spec says `details` defaults to true; TGI leaves details out unless asked.
    assert ("details" in reply.json) is details
    assert (reply.headers["x-prompt-tokens"], reply.headers["x-generated-tokens"]) == ("3", "7")
    if details:
        assert reply.json["details"]["finish_reason"] == "eos_token"
        assert reply.json["details"]["generated_tokens"] == 7
        assert reply.json["details"]["seed"] is None  # greedy
        assert reply.json["details"]["prefill"] == []
        assert reply.json["details"]["tokens"][-1] == EOS_TOKEN


def test_decoder_input_details_gives_the_prefill(server: TGIServer, contract: Contract) -> None:
    parameters = {"details": True, "decoder_input_details": True, "max_new_tokens": 1}
    details = generate(server, contract, parameters, inputs="Hello big world")["details"]
    contract.component("Details", details)
    assert [token["text"] for token in details["prefill"]] == ["", "Hello", " big", " world"]
    assert details["prefill"][0]["logprob"] is None and details["prefill"][1]["logprob"] == 0.0
    reply = post(server.url, "/generate_stream", {"inputs": "x", "parameters": parameters})
    message = "`decoder_input_details` == true is not supported when streaming tokens"
    assert reply.json_events() == [
        {"error": f"Input validation error: {message}", "error_type": "validation"}
    ]


def test_root_answers_an_array_with_the_prompt_prepended(
    server: TGIServer, contract: Contract
) -> None:
    body: dict[str, Any] = {"inputs": "Hello there", "parameters": {"max_new_tokens": 2}}
    contract.request("/", body)
    reply = post(server.url, "/", body)
    contract.response("POST", "/", 200, "application/json", reply.json)
    # A text-generation model's `POST /` prepends the prompt unless return_full_text is set.
    assert reply.json == [{"generated_text": "Hello thereParis is"}]
    body["parameters"] |= {"return_full_text": False}
    assert post(server.url, "/", body).json == [{"generated_text": "Paris is"}]


@pytest.mark.parametrize("details", [False, True])
def test_generate_stream_contract(server: TGIServer, contract: Contract, details: bool) -> None:
    body = {"inputs": "Hello there", "parameters": {"details": details, "max_new_tokens": 20}}
    contract.request("/generate_stream", body)
    events = stream(server, contract, body)
    assert [event["index"] for event in events] == list(range(1, 8))
    for event in events[:-1]:
        assert event["generated_text"] is None and event["details"] is None  # explicit nulls
        assert not event["token"]["special"]
    last = events[-1]
    assert last["token"] == EOS_TOKEN and last["generated_text"] == REPLY
    assert "".join(event["token"]["text"] for event in events[:-1]) == REPLY
    expected = {
        "finish_reason": "eos_token",
        "generated_tokens": 7,
        "seed": None,
        "input_length": 3,
    }
    assert last["details"] == (expected if details else None)


def test_root_with_stream_true_is_generate_stream(server: TGIServer, contract: Contract) -> None:
    body = {"inputs": "Hello", "parameters": {"return_full_text": False}, "stream": True}
    contract.request("/", body)
    assert stream(server, contract, body, "/") == stream(server, contract, body)


def test_info_contract(server: TGIServer, contract: Contract) -> None:
    reply = get(server.url, "/info")
    contract.response("GET", "/info", 200, "application/json", reply.json)
    assert reply.json["model_id"] == "scripted-zephyr"
    assert reply.json["max_input_tokens"] == 4095 and reply.json["max_total_tokens"] == 4096
    assert reply.json["max_stop_sequences"] == 4 and reply.json["max_best_of"] == 2
    assert "max_input_length" not in reply.json  # the name before TGI 2.1
    assert reply.json["router"] == "text-generation-router"


def test_tokenize_contract(server: TGIServer, contract: Contract) -> None:
    reply = post(server.url, "/tokenize", {"inputs": "Hello  big world"})
    contract.response("POST", "/tokenize", 200, "application/json", reply.json)
    assert reply.json[0] == {"id": 1, "text": "", "start": 0, "stop": 0}  # BOS
    assert "".join(token["text"] for token in reply.json) == "Hello  big world"
    assert reply.json[2] == {"id": word_id("  big"), "text": "  big", "start": 5, "stop": 10}


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_contract(server: TGIServer, contract: Contract, include_usage: bool) -> None:
    body: dict[str, Any] = {"model": "tgi", "messages": CHAT, "max_tokens": 3, "temperature": 0}
    contract.request("/v1/chat/completions", body)
    reply = post(server.url, "/v1/chat/completions", body)
    contract.response("POST", "/v1/chat/completions", 200, "application/json", reply.json)
    assert reply.json["choices"][0]["message"] == {"role": "assistant", "content": "Paris is the"}
    assert reply.json["choices"][0]["finish_reason"] == "length"
    prompt_tokens = len(format_messages(CHAT).split()) + 1
    assert reply.json["usage"] == {"prompt_tokens": prompt_tokens, "completion_tokens": 3,
                                   "total_tokens": prompt_tokens + 3}  # fmt: skip
    body |= {"max_tokens": 50, "stream": True, "stream_options": {"include_usage": include_usage}}
    contract.request("/v1/chat/completions", body)
    streamed = post(server.url, "/v1/chat/completions", body)
    assert streamed.events()[-1] == "[DONE]"
    chunks = streamed.json_events()
    for chunk in chunks:
        contract.response("POST", "/v1/chat/completions", 200, "text/event-stream", chunk)
    usage = chunks.pop() if include_usage else None
    assert "".join(chunk["choices"][0]["delta"]["content"] for chunk in chunks) == REPLY
    assert chunks[-1]["choices"][0]["delta"]["content"] == ""  # the EOS token
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks][-2:] == [None, "stop"]
    if usage is not None:
        assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 7


def test_error_bodies_contract(server: TGIServer, contract: Contract) -> None:
    reply = post(server.url, "/generate", {"inputs": "x", "parameters": {"top_p": 1.0}})
    # The spec allows top_p = 1 (maximum: 1); TGI wants 0 < top_p < 1.
    assert_error(
        reply,
        422,
        "validation",
        "Input validation error: `top_p` must be > 0.0 and < 1.0",
        contract,
    )
    for status, error_type in (
        (424, "generation"),
        (429, "overloaded"),
        (500, "incomplete_generation"),
    ):
        server.fail_next(1, status)
        reply = post(server.url, "/generate", {"inputs": "x"})
        contract.response("POST", "/generate", status, "application/json", reply.json)
        assert reply.json["error_type"] == error_type
    server.set_healthy(False)
    reply = get(server.url, "/health")
    contract.response("GET", "/health", 503, "application/json", reply.json)


# -- validation -----------------------------------------------------------------------------

RULES = [
    ({"temperature": 0}, "`temperature` must be strictly positive"),
    ({"temperature": -1.5}, "`temperature` must be strictly positive"),
    ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"top_p": 0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"typical_p": 1.0}, "`typical_p` must be > 0.0 and < 1.0"),
    ({"top_k": 0}, "`top_k` must be strictly positive"),
    ({"top_k": -3}, "`top_k` must be strictly positive"),
    ({"repetition_penalty": 0}, "`repetition_penalty` must be strictly positive"),
    ({"frequency_penalty": 2.5}, "`frequency_penalty` must be >= -2.0 and <= 2.0"),
    ({"frequency_penalty": -2.01}, "`frequency_penalty` must be >= -2.0 and <= 2.0"),
    ({"max_new_tokens": 0}, "`max_new_tokens` must be strictly positive"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "`stop` supports up to 4 stop sequences. Given: 5"),
    ({"best_of": 2}, "you must use sampling when `best_of` is > 1"),
    ({"best_of": 2, "do_sample": True, "seed": 3}, "`seed` must not be set when `best_of` > 1"),
    ({"best_of": 3, "do_sample": True}, "`best_of` must be > 0 and <= 2. Given: 3"),
    ({"truncate": 0}, "`truncate` must be strictly positive and less than 4095. Given: 0"),
    ({"top_n_tokens": 6}, "`top_n_tokens` must be >= 0 and <= 5. Given: 6"),
    ({"max_new_tokens": 4094}, "`inputs` tokens + `max_new_tokens` must be <= 4096. "
     "Given: 3 `inputs` tokens and 4094 `max_new_tokens`"),
    ({"grammar": {"type": "json", "value": {"type": "object"}}},
     "grammar is not valid: Grammar must have a 'properties' field"),
    ({"grammar": {"type": "json_schema", "value": {"schema": {"type": "object"}}}},
     "grammar is not valid: Grammar must have a 'properties' field"),
    ({"grammar": {"type": "json", "value": {"properties": {"a": {"type": "string"}}}}},
     "grammar is not supported by this backend yet"),
    ({"grammar": {"type": "regex", "value": "[a-z]+"}},
     "grammar is not supported by this backend yet"),
]  # fmt: skip


@pytest.mark.parametrize(("parameters", "message"), RULES)
def test_validation_rules(server: TGIServer, contract: Contract, parameters: dict[str, Any],
                          message: str) -> None:  # fmt: skip
    reply = post(server.url, "/generate", {"inputs": "Hello there", "parameters": parameters})
    assert_error(reply, 422, "validation", f"Input validation error: {message}", contract)


def test_input_length_rules(backend: ScriptedBackend, contract: Contract) -> None:
    with TGIServer(backend, max_input_tokens=4, max_total_tokens=16) as small:
        empty = post(small.url, "/generate", {"inputs": ""})
        assert_error(
            empty, 422, "validation", "Input validation error: `inputs` cannot be empty", contract
        )
        long = post(small.url, "/generate", {"inputs": "one two three four five six"})
        message = "Input validation error: `inputs` must have less than 4 tokens. Given: 7"
        assert_error(long, 422, "validation", message, contract)
        body = {"inputs": "one two three four five six", "parameters": {"truncate": 3}}
        cut = post(small.url, "/generate", body)
        assert cut.status == 200 and cut.headers["x-prompt-tokens"] == "3"
        assert backend.requests[-1].prompt == " four five six"


DESERIALIZATION = [
    ({"inputs": "x", "parameters": {"stop": None}},
     "parameters.stop: invalid type: null, expected a sequence"),
    ({"parameters": {}}, "missing field `inputs`"),
    ({"inputs": 3}, "inputs: invalid type: integer `3`, expected a string"),
    ({"inputs": "x", "parameters": {"temperature": "hot"}},
     'parameters.temperature: invalid type: string "hot", expected f32'),
    ({"inputs": "x", "parameters": {"max_new_tokens": -1}},
     "parameters.max_new_tokens: invalid value: integer `-1`, expected u32"),
    ({"inputs": "x", "parameters": {"details": None}},
     "parameters.details: invalid type: null, expected a boolean"),
    ({"inputs": "x", "parameters": {"grammar": {"type": "yaml", "value": ""}}},
     "parameters.grammar: unknown variant `yaml`, expected one of `json`, `regex`, `json_schema`"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), DESERIALIZATION)
def test_bodies_that_do_not_deserialize(
    server: TGIServer, body: dict[str, Any], message: str
) -> None:
    reply = post(server.url, "/generate", body)
    assert (reply.status, reply.content_type) == (422, "text/plain; charset=utf-8")
    assert (
        reply.body.decode()
        == f"Failed to deserialize the JSON body into the target type: {message}"
    )


def test_malformed_json_and_content_type(server: TGIServer) -> None:
    reply = post(
        server.url, "/generate", raw=b'{"inputs": ', headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400 and reply.body.startswith(
        b"Failed to parse the request body as JSON"
    )
    reply = post(
        server.url, "/generate", raw=b'{"inputs": "x"}', headers={"Content-Type": "text/plain"}
    )
    assert reply.status == 415 and b"application/json" in reply.body
    assert (
        post(server.url, "/nowhere", {}).status == 404
        and get(server.url, "/generate").status == 405
    )


def test_unknown_fields_are_ignored(server: TGIServer) -> None:
    body = {
        "inputs": "Hi",
        "extra": 1,
        "parameters": {"max_new_tokens": 1, "adapter_id": "x", "foo": [1]},
    }
    assert post(server.url, "/generate", body).json == {"generated_text": "Paris"}


def test_defaults(backend: ScriptedBackend, contract: Contract) -> None:
    with TGIServer(ScriptedBackend(eos=False), max_input_tokens=8, max_total_tokens=20) as ramble:
        # Without max_new_tokens the budget is what the context has left (the spec says 1024).
        details = generate(ramble, contract, {"details": True}, inputs="a b c")["details"]
        assert (details["generated_tokens"], details["finish_reason"]) == (16, "length")
    with TGIServer(backend) as server:
        post(server.url, "/generate", {"inputs": "Hi"})  # no `parameters`: do_sample is true
        assert (
            not backend.requests[-1].params.greedy and backend.requests[-1].params.seed is not None
        )
        generate(server, contract, {})
        assert backend.requests[-1].params.greedy
        # TGI samples whenever a warper is set, even with do_sample false.
        sampled = generate(server, contract, {"temperature": 0.5, "details": True})
        assert sampled["details"]["seed"] is not None and not backend.requests[-1].params.greedy
        generate(server, contract, {"temperature": 1.0})
        assert backend.requests[-1].params == GenerationParams(max_new_tokens=4093)
        seeded = generate(
            server, contract, {"do_sample": True, "seed": 7, "top_k": 5, "details": True}
        )
        assert seeded["details"]["seed"] == 7
        assert backend.requests[-1].params == GenerationParams(
            max_new_tokens=4093, temperature=1.0, top_k=5, seed=7
        )


def test_stream_errors_come_in_band(server: TGIServer, contract: Contract) -> None:
    body = {"inputs": "Hi", "parameters": {"top_p": 1.0}}
    reply = post(server.url, "/generate_stream", body)
    error = {
        "error": "Input validation error: `top_p` must be > 0.0 and < 1.0",
        "error_type": "validation",
    }
    # The spec lists 422 for this route; TGI answers 200 and one error event, without [DONE].
    assert reply.status == 200 and reply.body == b"data: " + compact(error) + b"\n\n"
    contract.component("ErrorResponse", reply.json_events()[0])
    chat = post(
        server.url, "/v1/chat/completions", {"messages": CHAT, "top_p": 1.0, "stream": True}
    )
    assert chat.status == 200 and chat.events()[-1] == "[DONE]"
    assert chat.json_events() == [{"error": {"message": error["error"], "http_status_code": 422}}]
    bad_chat = post(server.url, "/v1/chat/completions", {"messages": []})
    assert_error(bad_chat, 422, "template_error", bad_chat.json["error"], contract)
    assert bad_chat.json["error"].startswith("Template error: ")


def test_chat_maps_openai_parameters(server: TGIServer, backend: ScriptedBackend) -> None:
    body = {"messages": CHAT, "temperature": 0, "max_completion_tokens": 4, "stop": ["capital"],
            "presence_penalty": 0.5, "seed": 3, "n": 1, "model": "dummy"}  # fmt: skip
    reply = post(server.url, "/v1/chat/completions", body)
    # The stop text is kept, and stop_sequence is not renamed (only eos_token becomes "stop").
    assert reply.json["choices"][0]["message"]["content"] == "Paris is the capital"
    assert reply.json["choices"][0]["finish_reason"] == "stop_sequence"
    assert backend.requests[-1].params == GenerationParams(
        max_new_tokens=4, repetition_penalty=2.5, stop=("capital",)
    )
    post(server.url, "/v1/chat/completions", {"messages": CHAT, "temperature": 0.7})
    assert backend.requests[-1].params.temperature == pytest.approx(0.7)


def test_chat_tools_and_response_format(server: TGIServer, contract: Contract) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    url, chat = server.url, {"messages": CHAT, "tools": [tool]}
    unknown = post(url, "/v1/chat/completions", chat | {"tool_choice": "get_time"})
    message = "Tool error: Tool with name get_time not found"
    assert_error(unknown, 422, "tool_error", message, contract)
    both = post(
        url, "/v1/chat/completions", chat | {"response_format": {"type": "regex", "value": "a"}}
    )
    assert both.status == 422 and both.json["error_type"] == "tool_error"
    unsupported = "Input validation error: grammar is not supported by this backend yet"
    for choice in ("auto", "required", {"type": "function", "function": {"name": "get_weather"}}):
        reply = post(url, "/v1/chat/completions", chat | {"tool_choice": choice})
        assert_error(reply, 422, "validation", unsupported, contract)
    none = post(url, "/v1/chat/completions", chat | {"tool_choice": "none", "temperature": 0})
    assert none.json["choices"][0]["message"]["content"] == REPLY
    # OpenAI's shapes are not TGI's: TGI wants {"type": ..., "value": ...}.
    for openai in ({"type": "json_object"}, {"type": "json_schema", "json_schema": {"schema": {}}}):
        reply = post(url, "/v1/chat/completions", {"messages": CHAT, "response_format": openai})
        assert reply.status == 422 and b"missing field `value`" in reply.body


def test_limits_must_be_consistent(backend: ScriptedBackend) -> None:
    with pytest.raises(ValueError, match="max_input_tokens < max_total_tokens"):
        TGIServer(backend, max_input_tokens=10, max_total_tokens=10)


# -- behaviour ------------------------------------------------------------------------------


def test_stop_text_is_kept(server: TGIServer, contract: Contract) -> None:
    result = generate(server, contract, {"stop": ["capital"], "details": True})
    assert result["generated_text"] == "Paris is the capital"
    assert result["details"]["finish_reason"] == "stop_sequence"
    assert result["details"]["generated_tokens"] == 4
    events = stream(
        server, contract, {"inputs": "Hi", "parameters": {"stop": ["capital"], "details": True}}
    )
    assert events[-1]["token"]["text"] == " capital" and not events[-1]["token"]["special"]
    assert events[-1]["generated_text"] == "Paris is the capital"
    assert events[-1]["details"]["finish_reason"] == "stop_sequence"


def test_length_at_max_new_tokens(server: TGIServer, contract: Contract) -> None:
    result = generate(server, contract, {"max_new_tokens": 3, "details": True})
    assert result["generated_text"] == "Paris is the"
    assert (result["details"]["finish_reason"], result["details"]["generated_tokens"]) == (
        "length",
        3,
    )
    events = stream(server, contract, {"inputs": "Hi", "parameters": {"max_new_tokens": 3}})
    assert [event["token"]["text"] for event in events] == ["Paris", " is", " the"]
    assert events[-1]["generated_text"] == "Paris is the"


def test_sse_framing_is_byte_exact(contract: Contract) -> None:
    with TGIServer(ScriptedBackend(reply="Hi there")) as server:
        reply = post(server.url, "/generate_stream", {"inputs": "x"})
        hi, there = word_id("Hi"), word_id(" there")
        assert reply.body == (
            b'data: {"index":1,"token":{"id":%d,"text":"Hi","logprob":0.0,"special":false},'
            b'"generated_text":null,"details":null}\n\n'
            b'data: {"index":2,"token":{"id":%d,"text":" there","logprob":0.0,"special":false},'
            b'"generated_text":null,"details":null}\n\n'
            b'data: {"index":3,"token":{"id":2,"text":"</s>","logprob":0.0,"special":true},'
            b'"generated_text":"Hi there","details":null}\n\n' % (hi, there)
        )  # no [DONE] on the native route
        assert reply.headers["transfer-encoding"] == "chunked"
        assert reply.headers.get("connection") != "close"  # kept alive, as TGI's router does
        chat = post(server.url, "/v1/chat/completions", {"messages": CHAT, "stream": True})
        assert chat.body.endswith(b"\n\ndata: [DONE]\n\n") and chat.body.startswith(
            b'data: {"object"'
        )


def test_auth(backend: ScriptedBackend, contract: Contract) -> None:
    with TGIServer(backend, api_key="sekret") as server:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "sekret"}):
            for path in ("/", "/generate", "/generate_stream", "/tokenize", "/v1/chat/completions"):
                reply = post(server.url, path, {"inputs": "x"}, headers=headers)
                assert (reply.status, reply.body) == (401, b"")
        good = post(
            server.url, "/generate", {"inputs": "x"}, headers={"Authorization": "Bearer sekret"}
        )
        assert good.status == 200
        assert get(server.url, "/info").status == 200 and get(server.url, "/health").status == 200


def test_health_switch(server: TGIServer, contract: Contract) -> None:
    for path in ("/health", "/", "/ping"):
        assert (get(server.url, path).status, get(server.url, path).body) == (200, b"")
    server.set_healthy(False)
    unhealthy = get(server.url, "/health")
    assert_error(unhealthy, 503, "healthcheck", "unhealthy", contract)
    server.set_healthy(True)
    assert get(server.url, "/health").status == 200


def test_overloaded_past_max_concurrent_requests(
    backend: ScriptedBackend, contract: Contract
) -> None:
    with TGIServer(backend, max_concurrent_requests=1) as server:
        server.latency = 0.5
        first: list[Any] = []
        worker = threading.Thread(
            target=lambda: first.append(post(server.url, "/generate", {"inputs": "x"}))
        )
        worker.start()
        deadline = time.monotonic() + 5
        while server.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        overloaded = post(server.url, "/generate", {"inputs": "x"})
        assert_error(overloaded, 429, "overloaded", "Model is overloaded", contract)
        in_band = post(server.url, "/generate_stream", {"inputs": "x"})
        assert in_band.status == 200
        assert in_band.json_events() == [
            {"error": "Model is overloaded", "error_type": "overloaded"}
        ]
        worker.join()
        assert first[0].status == 200 and server.in_flight == 0


def test_request_log(server: TGIServer) -> None:
    post(server.url, "/generate", {"inputs": "x"}, headers={"X-Trace": "abc"})
    get(server.url, "/info")
    logged, info = server.requests[-2:]
    assert (logged.method, logged.path, logged.body) == ("POST", "/generate", {"inputs": "x"})
    assert (
        logged.headers["x-trace"] == "abc" and logged.headers["content-type"] == "application/json"
    )
    assert (info.method, info.path, info.body) == ("GET", "/info", None)


def test_lifecycle(backend: ScriptedBackend) -> None:
    server = TGIServer(backend)
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018
    url = server.start().url
    assert server.start().url == url and url.startswith("http://127.0.0.1:")
    server.stop()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        get(url, "/health")
    with server:
        assert get(server.url, "/health").status == 200


# -- fault injection ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [424, 429, 500, 503])
def test_fail_next(server: TGIServer, contract: Contract, status: int) -> None:
    server.fail_next(2, status=status)
    for path in ("/generate", "/v1/chat/completions"):
        reply = post(server.url, path, {"inputs": "x", "messages": CHAT})
        assert reply.status == status
        contract.component("ErrorResponse", reply.json)
    assert post(server.url, "/generate", {"inputs": "x"}).status == 200
    server.fail_next(1, 429, message="slow down")
    assert post(server.url, "/generate", {"inputs": "x"}).json == {
        "error": "slow down",
        "error_type": "overloaded",
    }


def test_latency(server: TGIServer) -> None:
    server.latency = 0.3
    started = time.monotonic()
    assert post(server.url, "/generate", {"inputs": "x"}).status == 200
    assert time.monotonic() - started >= 0.3
    server.latency, server.token_latency = 0.0, 0.1
    started = time.monotonic()
    assert len(post(server.url, "/generate_stream", {"inputs": "x"}).events()) == 7
    assert time.monotonic() - started >= 0.6  # six gaps between seven events
    server.reset_faults()
    assert server.latency == server.token_latency == 0.0


def test_cut_stream_after(server: TGIServer) -> None:
    import http.client

    server.cut_stream_after(2)
    with pytest.raises(http.client.IncompleteRead) as cut:
        post(server.url, "/generate_stream", {"inputs": "x"})
    assert cut.value.partial.count(b"data: ") == 2 and b'generated_text":"' not in cut.value.partial
    assert (
        len(post(server.url, "/generate_stream", {"inputs": "x"}).events()) == 7
    )  # one stream only


def test_stream_error_after(server: TGIServer, contract: Contract) -> None:
    server.stream_error_after(2, "boom", "generation")
    events = stream(server, None, {"inputs": "x"})
    assert len(events) == 3 and events[-1] == {"error": "boom", "error_type": "generation"}
    contract.component("ErrorResponse", events[-1])
    server.stream_error_after(1, "gone", "incomplete_generation")
    chat = post(server.url, "/v1/chat/completions", {"messages": CHAT, "stream": True})
    assert chat.json_events()[-1] == {"error": {"message": "gone", "http_status_code": 500}}
    assert chat.events()[-1] == "[DONE]"


# -- interoperability -----------------------------------------------------------------------


def test_inference_client(server: TGIServer, contract: Contract, hub: None) -> None:
    from huggingface_hub import ChatCompletionInputStreamOptions, InferenceClient
    from huggingface_hub.errors import OverloadedError, ValidationError

    client = InferenceClient(base_url=server.url)
    assert client.text_generation("Hi", max_new_tokens=3, return_full_text=False) == "Paris is the"
    assert client.text_generation("Hi", max_new_tokens=2) == "HiParis is"  # TGI's full text
    output = client.text_generation("Hi", details=True, stop=["capital"], return_full_text=False)
    assert output.generated_text == "Paris is the capital"
    assert output.details is not None and output.details.finish_reason == "stop_sequence"
    tokens = list(client.text_generation("Hi", stream=True))
    assert tokens == ["Paris", " is", " the", " capital", " of", " France.", "</s>"]  # EOS leaks
    streamed = list(client.text_generation("Hi", stream=True, details=True))
    assert "".join(e.token.text for e in streamed if not e.token.special) == REPLY
    assert streamed[-1].details is not None and streamed[-1].details.finish_reason == "eos_token"
    answer = client.chat_completion(CHAT, max_tokens=10, temperature=0)
    assert answer.choices[0].message.content == REPLY and answer.choices[0].finish_reason == "stop"
    options = ChatCompletionInputStreamOptions(include_usage=True)
    chunks = list(client.chat_completion(CHAT, stream=True, stream_options=options))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    with pytest.raises(ValidationError, match="top_p"):
        client.text_generation("Hi", top_p=1.0)
    server.fail_next(1, 429)
    with pytest.raises(OverloadedError):
        client.text_generation("Hi")
    for record in server.requests:
        assert "authorization" not in record.headers
        if record.path in ("/", "/v1/chat/completions"):
            contract.request(record.path, record.body)


def test_inference_client_errors_and_timeouts(server: TGIServer, hub: None) -> None:
    import httpx
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import (
        GenerationError,
        HfHubHTTPError,
        InferenceTimeoutError,
        UnknownError,
    )

    client = InferenceClient(base_url=server.url)
    server.stream_error_after(2, "boom")
    received: list[str] = []
    with pytest.raises(GenerationError, match="boom"):
        received.extend(client.text_generation("Hi", stream=True))
    assert received == ["Paris", " is"]
    server.cut_stream_after(1)
    with pytest.raises(httpx.RemoteProtocolError):
        list(client.text_generation("Hi", stream=True))
    server.fail_next(1, 503)
    with pytest.raises(UnknownError, match="not ready"):  # any unknown error_type
        client.text_generation("Hi")
    loading = {
        "error": "Model HuggingFaceH4/zephyr-7b-beta is currently loading",
        "estimated_time": 20.0,
    }
    server.fail_next(1, 503, body=loading)  # no error_type: a plain HTTP error
    with pytest.raises(HfHubHTTPError) as unavailable:
        client.text_generation("Hi")
    assert unavailable.value.response is not None
    assert unavailable.value.response.status_code == 503
    server.latency = 1.0
    # huggingface_hub 1.x lets httpx's ReadTimeout through (its InferenceTimeoutError wraps
    # only the built-in TimeoutError).
    with pytest.raises((httpx.TimeoutException, InferenceTimeoutError)):
        InferenceClient(base_url=server.url, timeout=0.2).text_generation("Hi")


def test_async_inference_client(server: TGIServer, contract: Contract, hub: None) -> None:
    from huggingface_hub import AsyncInferenceClient

    async def run() -> None:
        async with AsyncInferenceClient(base_url=server.url) as client:
            text = await client.text_generation("Hi", max_new_tokens=3, return_full_text=False)
            assert text == "Paris is the"
            output = await client.text_generation("Hi", details=True, max_new_tokens=2)
            assert output.details is not None and output.details.generated_tokens == 2
            tokens = [
                t async for t in await client.text_generation("Hi", stream=True, details=True)
            ]
            assert tokens[-1].token.special and tokens[-1].generated_text == "Hi" + REPLY
            answer = await client.chat_completion(CHAT, max_tokens=2)
            assert answer.choices[0].message.content == "Paris is"
            chunks = [c async for c in await client.chat_completion(CHAT, stream=True)]
            assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY

    asyncio.run(run())
    for record in server.requests:
        contract.request(record.path, record.body)


def test_langchain_huggingface(server: TGIServer, contract: Contract, hub: None) -> None:
    from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

    llm = HuggingFaceEndpoint(endpoint_url=server.url, max_new_tokens=4, seed=1)  # type: ignore[call-arg]
    assert llm.invoke("Hi") == "Paris is the capital"
    assert "".join(llm.stream("Hi")) == "Paris is the capital"
    endpoint = HuggingFaceEndpoint(endpoint_url=server.url, max_new_tokens=64)  # type: ignore[call-arg]
    chat = ChatHuggingFace(llm=endpoint)
    message = chat.invoke("What is the capital of France?")
    assert message.content == REPLY
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 7
    sent = [record for record in server.requests]
    assert [record.path for record in sent] == ["/", "/", "/v1/chat/completions"]
    assert (
        sent[0].body["parameters"]["max_new_tokens"] == 4 and "authorization" not in sent[0].headers
    )
    for record in sent:
        contract.request(record.path, record.body)


# -- the tiny Transformers model ------------------------------------------------------------


def test_tiny_model_generate_and_stream(tiny_backend: Any, contract: Contract) -> None:
    prompt = format_messages(CHAT)
    expected = tiny_backend.generate(
        [GenerationRequest(prompt, GenerationParams(max_new_tokens=12))]
    )[0]
    with TGIServer(tiny_backend, max_input_tokens=1024, max_total_tokens=2048) as server:
        body = {"inputs": prompt, "parameters": {"max_new_tokens": 12, "details": True}}
        reply = post(server.url, "/generate", body)
        contract.response("POST", "/generate", 200, "application/json", reply.json)
        text = expected.text + (expected.stop_sequence or "")
        assert reply.json["generated_text"] == text
        assert reply.json["details"]["finish_reason"] == expected.finish_reason
        assert reply.json["details"]["generated_tokens"] == expected.completion_tokens
        assert int(reply.headers["x-prompt-tokens"]) == expected.prompt_tokens
        events = stream(server, contract, body)
        assert events[-1]["generated_text"] == text
        assert "".join(e["token"]["text"] for e in events if not e["token"]["special"]) == text
        assert events[-1]["token"]["special"] is (expected.finish_reason == "eos_token")
        assert events[-1]["details"]["input_length"] == expected.prompt_tokens
        tokens = post(server.url, "/tokenize", {"inputs": prompt}).json
        contract.response("POST", "/tokenize", 200, "application/json", tokens)
        assert len(tokens) == expected.prompt_tokens and tokens[0]["id"] == 1
        assert "".join(token["text"] for token in tokens) == prompt


def test_tiny_model_chat(tiny_backend: Any, contract: Contract, hub: None) -> None:
    from huggingface_hub import InferenceClient

    params = GenerationParams(max_new_tokens=8)
    expected = tiny_backend.generate([GenerationRequest(format_messages(CHAT), params)])[0]
    with TGIServer(tiny_backend, model_id="tiny-zephyr") as server:
        client = InferenceClient(base_url=server.url)
        answer = client.chat_completion(CHAT, max_tokens=8, temperature=0)
        assert answer.model == "tiny-zephyr"
        assert answer.choices[0].message.content == expected.text + (expected.stop_sequence or "")
        assert answer.usage.prompt_tokens == expected.prompt_tokens
        chunks = list(client.chat_completion(CHAT, max_tokens=8, temperature=0, stream=True))
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks)
            == answer.choices[0].message.content
        )


# -- ScriptedBackend ------------------------------------------------------------------------


def test_scripted_backend() -> None:
    backend = ScriptedBackend()  # echoes the last user turn
    prompt = format_messages(
        [("user", "first"), ("assistant", "ok"), ("user", "say  this please ")]
    )
    [done] = backend.generate([GenerationRequest(prompt)])
    assert (done.text, done.finish_reason, done.completion_tokens) == (
        "say  this please ",
        "eos_token",
        4,
    )
    assert done.prompt_tokens == len(prompt.split()) + 1 and done.stop_sequence is None
    stopped = backend.generate([GenerationRequest(prompt, GenerationParams(stop=("is p",)))])[0]
    assert (stopped.text, stopped.finish_reason, stopped.stop_sequence) == (
        "say  th",
        "stop_sequence",
        "is p",
    )
    assert stopped.completion_tokens == 3
    deltas = list(backend.stream(GenerationRequest(prompt, GenerationParams(stop=("is p",)))))
    assert "".join(d.text for d in deltas) == "say  th" and deltas[-1].generation == stopped
    cut = backend.generate([GenerationRequest("x", GenerationParams(max_new_tokens=1))])[0]
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("x", "length", 1)
    rambling = ScriptedBackend(reply=lambda prompt: prompt.upper(), eos=False)
    looped = rambling.generate([GenerationRequest("a b", GenerationParams(max_new_tokens=5))])[0]
    assert (looped.text, looped.finish_reason) == ("A B A B A", "length")
    assert asyncio.run(rambling.agenerate([GenerationRequest("a b")]))[0].completion_tokens == 256
    assert [token[1] for token in backend.tokenize(" a  b ")] == ["", " a", "  b "]
