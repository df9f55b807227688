"""One stop rule everywhere: generation stops at the first stop sequence to be *completed*, and
the text is cut at that sequence's start (longest first when several complete together)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.stops import StopStreamer, cut_at_stop, find_stop
from zephyr_integrations.testing.scripted_backend import ScriptedBackend

alphabet = st.sampled_from(list("ab</s>\nxé"))
texts = st.text(alphabet=alphabet, max_size=60)
stops = st.lists(st.text(alphabet=alphabet, min_size=1, max_size=5), max_size=3)

# The two counterexamples Hypothesis once found (overlapping stop sequences).
COUNTEREXAMPLES = [
    ("<<", ["<<", "<"], "", "<"),
    ("<<<s<", ["s", "<s<"], "<<<", "s"),
]


def generate_until_stop(text: str, stop_list: list[str]) -> tuple[str, str | None]:
    """The rule as a generator applies it: one character at a time, look at the text's tail."""
    for end in range(1, len(text) + 1):
        done = [stop for stop in stop_list if text[:end].endswith(stop)]
        if done:
            stop = max(done, key=len)
            return text[: end - len(stop)], stop
    return text, None


def stream(text: str, stop_list: list[str], cuts: list[int]) -> tuple[str, str | None]:
    pieces, start = [], 0
    for cut in sorted(set(cuts)):
        pieces.append(text[start:cut])
        start = max(start, cut)
    pieces.append(text[start:])
    streamer = StopStreamer(stop_list)
    released = "".join(streamer.push(piece) for piece in pieces) + streamer.flush()
    return released, streamer.matched


@given(text=texts, stop_list=stops)
@example(text="<<", stop_list=["<<", "<"])
@example(text="<<<s<", stop_list=["s", "<s<"])
def test_cutting_the_whole_text_follows_generation_order(text: str, stop_list: list[str]) -> None:
    assert cut_at_stop(text, stop_list) == generate_until_stop(text, stop_list)


@given(text=texts, stop_list=stops, cuts=st.lists(st.integers(0, 60), max_size=10))
@example(text="<<", stop_list=["<<", "<"], cuts=[1])
@example(text="<<<s<", stop_list=["s", "<s<"], cuts=[4])
def test_streamed_release_equals_cutting_the_whole_text(
    text: str, stop_list: list[str], cuts: list[int]
) -> None:
    assert stream(text, stop_list, cuts) == cut_at_stop(text, stop_list)


@pytest.mark.parametrize(("text", "stop_list", "cut", "matched"), COUNTEREXAMPLES)
def test_the_two_counterexamples(text: str, stop_list: list[str], cut: str, matched: str) -> None:
    assert cut_at_stop(text, stop_list) == (cut, matched)
    for split in range(len(text) + 1):
        assert stream(text, stop_list, [split]) == (cut, matched)
    assert stream(text, stop_list, list(range(len(text)))) == (cut, matched)


@pytest.mark.parametrize(("text", "stop_list", "cut", "matched"), COUNTEREXAMPLES)
def test_invoke_and_stream_agree_through_chat_zephyr(
    text: str, stop_list: list[str], cut: str, matched: str
) -> None:
    llm = ChatZephyr(backend=ScriptedBackend(reply=f"hey {text} then more"), temperature=0)
    invoked = llm.invoke("hi", stop=stop_list)
    streamed = "".join(str(chunk.content) for chunk in llm.stream("hi", stop=stop_list))
    assert invoked.content == streamed == f"hey {cut}"
    assert invoked.response_metadata["stop_sequence"] == matched


def test_holds_back_only_a_possible_stop_prefix() -> None:
    streamer = StopStreamer(["</s>"])
    assert streamer.push("Hello <") == "Hello "
    assert streamer.push("b") == "<b"
    assert streamer.push(" </") == " "
    assert streamer.push("s> tail") == ""
    assert streamer.matched == "</s>"
    assert streamer.flush() == ""


def test_the_first_stop_to_complete_wins_not_the_first_to_start() -> None:
    assert cut_at_stop("one two three", ["three", "two"]) == ("one ", "two")
    assert cut_at_stop("abcd", ["abcd", "bc"]) == ("a", "bc")
    assert cut_at_stop("xab", ["b", "ab"]) == ("x", "ab")  # same end: the longest is cut
    assert cut_at_stop("nothing", ["x"]) == ("nothing", None)
    assert find_stop("nothing", []) is None
