"""Duplicates are whole conversations: a different system turn makes a different prompt; and a
negative retry count is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.test_collect_fakes import EchoChat
from zephyr_integrations.cli import app
from zephyr_integrations.preferences.collect import CollectError, Generator, collect
from zephyr_integrations.preferences.feedback import JudgeError, judge
from zephyr_integrations.preferences.prompts import read_prompts
from zephyr_integrations.preferences.records import prompt_id

ECHO = "import:tests.unit.test_collect_fakes:echo_model"


def conversation(system: str, question: str = "What is DPO?") -> str:
    turns = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return json.dumps({"messages": turns}) + "\n"


def test_conversations_differing_only_in_the_system_turn_are_two_prompts(tmp_path: Path) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text(
        conversation("Be brief.")
        + conversation("Answer like a pirate.")
        + conversation("Be brief.")  # a real repeat
        + json.dumps({"prompt": "What is DPO?"})  # one user turn: yet another prompt
        + "\n"
    )
    prompts = read_prompts(source)
    assert len(prompts.prompts) == 3
    assert len({p.prompt_id for p in prompts.prompts}) == 3
    assert [(d.where, d.first) for d in prompts.duplicates] == [(f"{source}:3", f"{source}:1")]
    assert prompts.prompts[2].prompt_id == prompt_id("What is DPO?")  # ultrafeedback's id


def test_collect_keeps_both_conversations(tmp_path: Path) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text(conversation("Be brief.") + conversation("Answer like a pirate."))
    out = tmp_path / "c.jsonl"
    result = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(
        app, ["collect", str(source), "-m", ECHO, "-o", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "duplicate" not in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    systems = sorted(row["messages"][0]["content"] for row in rows)
    assert systems == ["Answer like a pirate.", "Be brief."]
    assert len({row["prompt_id"] for row in rows}) == 2


def test_negative_retries_are_refused_in_python_too(tmp_path: Path) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text(conversation("Be brief."))
    with pytest.raises(CollectError, match="max_retries=-1"):
        collect(read_prompts(source), [Generator(EchoChat())], tmp_path / "c.jsonl", max_retries=-1)
    with pytest.raises(JudgeError, match="max_retries=-1"):
        judge(source, EchoChat(), tmp_path / "j.jsonl", max_retries=-1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]
