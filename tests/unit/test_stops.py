from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zephyr_integrations.backends.stops import StopStreamer, cut_at_stop

alphabet = st.sampled_from(list("ab</s>\nxé"))
texts = st.text(alphabet=alphabet, max_size=60)
stops = st.lists(st.text(alphabet=alphabet, min_size=1, max_size=5), max_size=3)


@given(text=texts, stop_list=stops, cuts=st.lists(st.integers(0, 60), max_size=10))
def test_streamed_release_equals_cutting_the_whole_text(
    text: str, stop_list: list[str], cuts: list[int]
) -> None:
    pieces, start = [], 0
    for cut in sorted(set(cuts)):
        pieces.append(text[start:cut])
        start = max(start, cut)
    pieces.append(text[start:])
    streamer = StopStreamer(stop_list)
    released = "".join(streamer.push(piece) for piece in pieces) + streamer.flush()
    expected, matched = cut_at_stop(text, stop_list)
    assert released == expected
    assert streamer.matched == matched


def test_holds_back_only_a_possible_stop_prefix() -> None:
    streamer = StopStreamer(["</s>"])
    assert streamer.push("Hello <") == "Hello "
    assert streamer.push("b") == "<b"
    assert streamer.push(" </") == " "
    assert streamer.push("s> tail") == ""
    assert streamer.matched == "</s>"
    assert streamer.flush() == ""


def test_earliest_stop_wins() -> None:
    assert cut_at_stop("one two three", ["three", "two"]) == ("one ", "two")
    assert cut_at_stop("nothing", ["x"]) == ("nothing", None)
