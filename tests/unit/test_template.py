from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)

from zephyr_integrations import format_messages, official_chat_template
from zephyr_integrations.template import MessageFormatError, UnsupportedContentError, to_turns

TRICKY = ["</s>", "<|user|>", "<|assistant|>", "<|system|>", "<s>", "{{ x }}", "{% if %}", "\n"]
ROLE_TO_MESSAGE = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}

contents = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(TRICKY) | st.text(max_size=8), max_size=5).map("".join),
)
turns = st.lists(
    st.tuples(st.sampled_from(sorted(ROLE_TO_MESSAGE)), contents), min_size=1, max_size=8
)


@pytest.fixture(scope="module")
def jinja_tokenizer(official_template: str) -> Any:
    """A tokenizer only used to render the official template through Transformers."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
        eos_token="</s>",
        unk_token="<unk>",
    )
    tok.chat_template = official_template
    return tok


def test_packaged_template_is_the_official_one_byte_for_byte(shared_template: Path) -> None:
    if not shared_template.is_file():
        pytest.skip("../shared/zephyr is not beside this checkout")
    assert official_chat_template() == json.loads(shared_template.read_text(encoding="utf-8"))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(conversation=turns, add_generation_prompt=st.booleans())
def test_format_equals_transformers_apply_chat_template(
    jinja_tokenizer: Any, conversation: list[tuple[str, str]], add_generation_prompt: bool
) -> None:
    messages = [ROLE_TO_MESSAGE[role](content=content) for role, content in conversation]
    expected = jinja_tokenizer.apply_chat_template(
        [{"role": role, "content": content} for role, content in conversation],
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        eos_token="</s>",
    )
    assert format_messages(messages, add_generation_prompt=add_generation_prompt) == expected


def test_documented_shape() -> None:
    prompt = format_messages([SystemMessage("Be brief."), HumanMessage("Hi")])
    assert prompt == "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n"
    assert not prompt.startswith("<s>")  # BOS is the tokenizer's job


def test_accepts_tuples_and_dicts() -> None:
    assert format_messages([("user", "Hi"), {"role": "assistant", "content": "Yo"}], False) == (
        "<|user|>\nHi</s>\n<|assistant|>\nYo</s>\n"
    )


def test_tool_calls_and_results_are_rendered_not_dropped() -> None:
    messages: list[BaseMessage] = [
        HumanMessage("Weather in Paris?"),
        AIMessage(
            "Let me look.",
            tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
        ),
        ToolMessage("18°C, sunny", tool_call_id="call_1", name="get_weather"),
        ToolMessage("boom", tool_call_id="call_2", status="error"),
        FunctionMessage(name="legacy", content="42"),
    ]
    prompt = format_messages(messages)
    assert prompt == (
        "<|user|>\nWeather in Paris?</s>\n"
        "<|assistant|>\nLet me look.\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}\n'
        "</tool_call></s>\n"
        '<|user|>\n<tool_response name="get_weather" id="call_1">\n18°C, sunny\n'
        "</tool_response></s>\n"
        '<|user|>\n<tool_response id="call_2" status="error">\nboom\n</tool_response></s>\n'
        '<|user|>\n<tool_response name="legacy">\n42\n</tool_response></s>\n'
        "<|assistant|>\n"
    )


def test_anthropic_style_tool_use_blocks_are_rendered_once() -> None:
    call = {"name": "add", "args": {"a": 1}, "id": "t1", "type": "tool_call"}
    with_calls = AIMessage(
        content=[
            {"type": "text", "text": "Adding."},
            {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}},
        ],
        tool_calls=[call],
    )
    only_block = AIMessage(
        content=[{"type": "tool_use", "id": "t2", "name": "add", "input": {"a": 2}}]
    )
    assert to_turns([with_calls])[0][1].count("<tool_call>") == 1
    assert '"arguments": {"a": 2}' in to_turns([only_block])[0][1]


def test_list_content_is_flattened() -> None:
    message = HumanMessage(
        content=[
            "Hello ",
            {"type": "text", "text": "world"},
            {"type": "reasoning", "reasoning": "x"},
        ]
    )
    assert to_turns([message]) == [("user", "Hello world")]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image", "base64": "AAAA", "mime_type": "image/png"},
        {"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"},
        {"type": "file", "base64": "AAAA", "mime_type": "application/pdf"},
    ],
)
def test_multimodal_blocks_raise_naming_the_message_and_block(block: dict[str, Any]) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "look"}, block])
    with pytest.raises(UnsupportedContentError, match=r"messages\[1\].*block 1.*text-only"):
        format_messages([SystemMessage("s"), message])


def test_bad_conversations_raise_clear_errors() -> None:
    with pytest.raises(MessageFormatError, match="empty"):
        format_messages([])
    with pytest.raises(MessageFormatError, match="list of messages"):
        format_messages("hello")  # type: ignore[arg-type]
    with pytest.raises(MessageFormatError, match=r"messages\[0\].*role 'critic'"):
        format_messages([ChatMessage(role="critic", content="hm")])
    with pytest.raises(MessageFormatError, match=r"messages\[0\].*'remove'"):
        format_messages([RemoveMessage(id="1")])
    with pytest.raises(MessageFormatError, match="unknown type 'mystery'"):
        format_messages([HumanMessage(content=[{"type": "mystery"}])])


def test_chat_message_roles_map_to_zephyr_roles() -> None:
    assert to_turns(
        [ChatMessage(role="human", content="a"), ChatMessage(role="ai", content="b")]
    ) == [
        ("user", "a"),
        ("assistant", "b"),
    ]
