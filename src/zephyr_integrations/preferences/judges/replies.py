"""What LLM judges share: a chat model from an object or a spec, structured replies parsed.

A judge's chat model is asked for a Pydantic schema through LangChain's
``with_structured_output(schema, include_raw=True)``, so any chat model that supports it can
judge. A reply that does not parse is not a crash and not a 0: :func:`parse_reply` says why in one
short line, which the judge records as the answer's ``judge_error``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ValidationError

from zephyr_integrations.preferences.collect import model_name
from zephyr_integrations.preferences.judging import JudgeError

Schema = TypeVar("Schema", bound=BaseModel)


def chat_model(model: Any) -> tuple[BaseChatModel, str | None]:
    """The judge's chat model and its label: ``model`` itself, or one built from a
    ``KIND:TARGET[,key=value...]`` spec (sampling parameters set on the model)."""
    label = None
    if isinstance(model, str):
        from zephyr_integrations.model_spec import parse_model_spec

        model, _, label, count = parse_model_spec(model, params_on_model=True)
        if count is not None:
            raise JudgeError("n does not apply to a judge: it rates the answers it is given")
    if not isinstance(model, BaseChatModel):
        raise JudgeError(f"the judge {type(model).__name__} is not a LangChain BaseChatModel")
    return model, label


def with_budget(model: BaseChatModel, max_tokens: int) -> BaseChatModel:
    """A ChatZephyr judge with no token budget of its own gets ``max_tokens`` (what the reply
    schema needs); any other model, or one with a budget, is used as given."""
    from zephyr_integrations.chat_model import ChatZephyr

    if isinstance(model, ChatZephyr) and model.max_tokens is None:
        return model.model_copy(update={"max_tokens": max_tokens})
    return model


def structured(model: BaseChatModel, schema: type[BaseModel]) -> Runnable[Any, Any]:
    """``model`` asked for ``schema``, raw reply included; JudgeError if it cannot be."""
    try:
        return model.with_structured_output(schema, include_raw=True)
    except NotImplementedError as exc:
        raise JudgeError(
            f"the judge {type(model).__name__} does not support with_structured_output"
        ) from exc


def replier_name(reply: Any, model: BaseChatModel) -> str | None:
    """The name the model gave in its reply, if the reply carries the raw message."""
    raw = reply.get("raw") if isinstance(reply, dict) else None
    return model_name(raw, model) if isinstance(raw, AIMessage) else None


def parse_reply(
    reply: Any, schema: type[Schema]
) -> tuple[Schema | None, ValidationError | None, str]:
    """(parsed, the validation error if any, why not) from what ``with_structured_output``
    returned with ``include_raw=True`` (or a bare parsed object)."""
    raw: AIMessage | None = None
    parsed: Any = reply
    error: Any = None
    if isinstance(reply, dict) and "raw" in reply:
        raw = reply["raw"] if isinstance(reply.get("raw"), AIMessage) else None
        parsed, error = reply.get("parsed"), reply.get("parsing_error")
    if isinstance(parsed, dict):
        try:
            parsed = schema.model_validate(parsed)
        except ValidationError as exc:
            parsed, error = None, exc
    if isinstance(parsed, schema):
        return parsed, None, ""
    reason = describe(error)
    if raw is not None and raw.text and raw.text[:40] not in reason:
        reason += f" (reply began: {raw.text[:120]!r})"
    return None, validation_error(error), reason


def validation_error(error: object) -> ValidationError | None:
    """The ValidationError behind a parse failure (itself or its cause), if there is one."""
    if isinstance(error, ValidationError):
        return error
    cause = getattr(error, "__cause__", None)
    return cause if isinstance(cause, ValidationError) else None


def describe(error: object) -> str:
    """One short line for a parse failure: each invalid field with what was wrong."""
    if error is None:
        return "no structured answer in the reply"
    found = validation_error(error)
    if found is not None:
        problems = [
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            + (f" (got {item['input']!r})" if "input" in item and item["type"] != "missing" else "")
            for item in found.errors()[:4]
        ]
        return "; ".join(problems)
    return " ".join(str(error).split())[:300]
