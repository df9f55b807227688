from __future__ import annotations

from zephyr_integrations.tools import ToolSpec, parse_tool_calls, tool_instructions


def test_parses_calls_with_ids_and_keeps_text() -> None:
    text = 'Sure.\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    content, calls, invalid = parse_tool_calls(text)
    assert content == "Sure."
    assert invalid == []
    assert [(c["name"], c["args"], c["type"]) for c in calls] == [
        ("add", {"a": 1, "b": 2}, "tool_call")
    ]
    assert calls[0]["id"] and calls[0]["id"].startswith("call_")


def test_string_arguments_are_accepted() -> None:
    _, calls, _ = parse_tool_calls(
        '<tool_call>{"name": "f", "arguments": "{\\"x\\": 3}"}</tool_call>'
    )
    assert calls[0]["args"] == {"x": 3}


def test_half_json_becomes_an_invalid_tool_call_naming_what_failed() -> None:
    content, calls, invalid = parse_tool_calls('<tool_call>\n{"name": "add", "argum')
    assert calls == [] and content == ""
    assert invalid[0]["args"] == '{"name": "add", "argum'
    assert "not valid JSON" in (invalid[0]["error"] or "")


def test_wrong_shapes_are_invalid_not_exceptions() -> None:
    _, calls, invalid = parse_tool_calls(
        '<tool_call>[1]</tool_call><tool_call>{"name": "f", "arguments": [1]}</tool_call>'
    )
    assert calls == []
    assert len(invalid) == 2
    assert invalid[1]["name"] == "f" and "JSON object" in (invalid[1]["error"] or "")


def test_plain_text_is_untouched() -> None:
    assert parse_tool_calls("  just text ") == ("  just text ", [], [])


def test_instructions_list_tools_and_the_choice() -> None:
    spec = ToolSpec(
        "add", "Add numbers", {"type": "object", "properties": {"a": {"type": "integer"}}}
    )
    text = tool_instructions([spec], "add")
    assert '"name": "add"' in text and "<tool_call>" in text
    assert "You must call the tool 'add'." in text
    assert "at least one tool" in tool_instructions([spec], "any")
