"""Chat models that are not ours, for testing the judge through LangChain's interface only.

``RuleJudge`` is a plain ``BaseChatModel`` subclass: it supports ``bind_tools``, so LangChain's
own ``with_structured_output`` (tool calling + ``PydanticToolsParser``) drives it. It reads the
answer out of the judge prompt and rates it by simple rules, so ratings depend on the real
candidate text. Answers containing "GARBLE" get a reply that is not a tool call; answers
containing "OFFSCALE" get a rating of 9 (out of the 1-5 range).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

ANSWER_HEADING = "# Answer to rate\n\n"


def rate(answer: str) -> int:
    """1-5 by length in words: a rule a test can predict."""
    return max(1, min(5, len(answer.split())))


class RuleJudge(BaseChatModel):
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "rule-judge"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        names = [convert_to_openai_tool(tool)["function"]["name"] for tool in tools]
        return self.bind(tool_names=names, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        prompt = str(messages[-1].content)
        answer = prompt.split(ANSWER_HEADING, 1)[1]
        metadata = {"model_name": "rule-judge-1", "finish_reason": "stop"}
        if "GARBLE" in answer:
            message = AIMessage(content="I think it is fine.", response_metadata=metadata)
        else:
            value = 9 if "OFFSCALE" in answer else rate(answer)
            args = {
                aspect: {"rating": value, "rationale": f"{len(answer.split())} words"}
                for aspect in ("instruction_following", "honesty", "truthfulness", "helpfulness")
            }
            call = {"name": kwargs["tool_names"][0], "args": args, "id": f"call-{self.calls}"}
            message = AIMessage(content="", tool_calls=[call], response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])


ANSWER = re.compile(r"^## Answer (\d+)\n\n(.*?)(?=\n\n## Answer \d+\n\n|\Z)", re.M | re.S)


class SideBySideJudge(BaseChatModel):
    """A comparative judge by rules, driven through LangChain's own ``with_structured_output``.

    It reads the numbered answers out of the prompt and rates them in the order shown: an answer
    containing "BEST" gets 5, any other 2; honesty is "N/A" for one containing "POEM". Each
    rationale quotes the answer it rates, so a test can see every rating land on its answer. If
    an answer contains "MISCOUNT" it rates one answer too few. ``shown`` keeps, per call, the
    aspect asked and the answers in the order shown.
    """

    shown: list[tuple[str, list[str]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "side-by-side-judge"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        names = [convert_to_openai_tool(tool)["function"]["name"] for tool in tools]
        return self.bind(tool_names=names, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        tool = kwargs["tool_names"][0]  # e.g. "HonestyRatings"
        answers = [text for _, text in ANSWER.findall(str(messages[-1].content))]
        self.shown.append((tool, answers))
        ratings: list[dict[str, Any]] = []
        for answer in answers:
            value: int | str = 5 if "BEST" in answer else 2
            if tool == "HonestyRatings" and "POEM" in answer:
                value = "N/A"
            ratings.append({"rationale": f"about {answer[:30]!r}", "rating": value})
        if any("MISCOUNT" in answer for answer in answers):
            ratings = ratings[:-1]
        call = {"name": tool, "args": {"ratings": ratings}, "id": f"call-{len(self.shown)}"}
        metadata = {"model_name": "side-by-side-1", "finish_reason": "stop"}
        message = AIMessage(content="", tool_calls=[call], response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])
