"""The stop rule over TGI's protocol: the first stop sequence to complete ends generation and
the text is cut at its start, whether the server or the client applies it, in invoke and stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.stops import cut_at_stop
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer

CASES = [
    ("<<", ["<<", "<"], "", "<"),
    ("<<<s<", ["s", "<s<"], "<<<", "s"),
]
NEVER = ["zz1", "zz2", "zz3", "zz4"]  # four stops first: the real ones are applied client-side


@pytest.fixture(scope="module")
def server() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(), model_id="scripted") as running:
        yield running


@pytest.mark.parametrize("client_side", [False, True], ids=["server-side", "client-side"])
@pytest.mark.parametrize(("text", "stops", "cut", "matched"), CASES)
def test_invoke_and_stream_cut_at_the_first_stop_to_complete(
    server: TGIServer, text: str, stops: list[str], cut: str, matched: str, client_side: bool
) -> None:
    stop_list = NEVER + stops if client_side else stops
    llm = ChatZephyr(backend="tgi", base_url=server.url, temperature=0, max_tokens=20)
    question = f"hey {text} then more"  # the scripted model echoes it
    invoked = llm.invoke(question, stop=stop_list)
    streamed = "".join(str(chunk.content) for chunk in llm.stream(question, stop=stop_list))
    assert invoked.content == streamed == f"hey {cut}"
    assert invoked.response_metadata["stop_sequence"] == matched


def test_transformers_invoke_and_stream_cut_at_the_first_stop_to_complete(
    tiny_model_path: Path,
) -> None:
    llm = ChatZephyr(
        model=str(tiny_model_path),
        backend="transformers",
        backend_kwargs={"dtype": "float32"},
        temperature=0,
        max_tokens=40,
    )
    text = str(llm.invoke("Tell me a story").content)
    assert len(text) >= 12, text
    # Overlapping stops: the longer starts first, the shorter completes first and wins.
    longer, shorter = text[4:12], text[8:11]
    expected, matched = cut_at_stop(text, [longer, shorter])
    assert matched == shorter and len(expected) <= 8
    invoked = llm.invoke("Tell me a story", stop=[longer, shorter])
    streamed = "".join(
        str(chunk.content) for chunk in llm.stream("Tell me a story", stop=[longer, shorter])
    )
    assert invoked.content == streamed == expected
    assert invoked.response_metadata["stop_sequence"] == shorter
