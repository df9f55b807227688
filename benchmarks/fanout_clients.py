"""The clients benchmarks/tgi_fanout.py runs side by side, each as ``(warm_up, run)``: ``warm_up()``
makes one call, ``run(prompts, concurrency)`` sends every prompt with at most ``concurrency`` in
flight and returns the texts (in order), and ``close()`` lets the client go.

TGI's native routes: ChatZephyr(backend="tgi"), bare aiohttp posting to ``/generate``,
huggingface_hub's ``AsyncInferenceClient.text_generation``, langchain-huggingface's
``HuggingFaceEndpoint``. OpenAI's routes on the same server: ChatZephyr(backend="openai") and the
raw ``openai`` client on ``/v1/completions``, and LangChain's ``ChatOpenAI`` (on
``/v1/chat/completions``: it has no completions route; langchain-openai's ``OpenAI`` LLM sends
up to 20 prompts per request, one request after another, which this server does not take).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TOKENS = 8
MODEL = "scripted"  # the name benchmarks' server process serves


@dataclass
class Client:
    name: str
    warm_up: Callable[[], Awaitable[object]]
    run: Callable[[Sequence[str], int], Awaitable[list[str]]]
    close: Callable[[], Awaitable[object]]


async def _gated(
    call: Callable[[str], Awaitable[str]], prompts: Sequence[str], limit: int
) -> list[str]:
    gate = asyncio.Semaphore(limit)

    async def one(prompt: str) -> str:
        async with gate:
            return await call(prompt)

    return list(await asyncio.gather(*(one(p) for p in prompts)))


async def _nothing() -> None:
    return None


def chat_zephyr(url: str, backend: str) -> Client:
    from zephyr_integrations import ChatZephyr

    chat = ChatZephyr(backend=backend, base_url=url, max_tokens=MAX_TOKENS, temperature=0)

    async def run(prompts: Sequence[str], limit: int) -> list[str]:
        replies = await chat.abatch(list(prompts), config={"max_concurrency": limit})
        return [str(r.content) for r in replies]

    async def close() -> None:
        await chat._backend.aclose()  # type: ignore[attr-defined]

    return Client(f"ChatZephyr(backend={backend!r})", lambda: chat.ainvoke("warm up"), run, close)


def zephyr_backend(url: str, backend: str) -> Client:
    """ChatZephyr's backend alone, without LangChain's per-call machinery: where the time goes."""
    from langchain_core.messages import HumanMessage

    from zephyr_integrations import ChatZephyr

    chat = ChatZephyr(backend=backend, base_url=url, max_tokens=MAX_TOKENS, temperature=0)
    engine = chat._backend

    async def call(prompt: str) -> str:
        request = chat._request([HumanMessage(prompt)], None)
        return str((await engine.agenerate([request]))[0].text)

    async def close() -> None:
        await engine.aclose()

    name = f"its backend alone (no LangChain), {backend}"
    return Client(name, lambda: call("warm up"), lambda p, n: _gated(call, p, n), close)


def bare_aiohttp(url: str) -> Client:
    """The floor: one aiohttp session posting TGI's JSON, no retries, no LangChain."""
    import aiohttp

    state: dict[str, Any] = {}
    parameters = {"max_new_tokens": MAX_TOKENS, "details": True, "do_sample": False}

    async def call(prompt: str) -> str:
        if "session" not in state:
            connector = aiohttp.TCPConnector(limit=256, ssl=False)
            state["session"] = aiohttp.ClientSession(connector=connector)
        body = {"inputs": prompt, "parameters": parameters}
        async with state["session"].post(f"{url}/generate", json=body) as response:
            return str((await response.json())["generated_text"])

    async def close() -> None:
        if "session" in state:
            await state.pop("session").close()

    return Client("bare aiohttp", lambda: call("warm up"), lambda p, n: _gated(call, p, n), close)


def hub_client(url: str) -> Client:
    from huggingface_hub import AsyncInferenceClient

    hub = AsyncInferenceClient(base_url=url, timeout=60)
    options = {"max_new_tokens": MAX_TOKENS, "details": True, "return_full_text": False}

    async def call(prompt: str) -> str:
        reply = await hub.text_generation(prompt, do_sample=False, **options)
        return str(reply.generated_text)

    return Client(
        "huggingface_hub AsyncInferenceClient",
        lambda: call("warm up"),
        lambda p, n: _gated(call, p, n),
        hub.close,
    )


def hf_endpoint(url: str) -> Client:
    from langchain_huggingface import HuggingFaceEndpoint

    llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
        endpoint_url=url, max_new_tokens=MAX_TOKENS, do_sample=False
    )

    async def run(prompts: Sequence[str], limit: int) -> list[str]:
        return [str(r) for r in await llm.abatch(list(prompts), config={"max_concurrency": limit})]

    return Client(
        "langchain-huggingface HuggingFaceEndpoint", lambda: llm.ainvoke("warm up"), run, _nothing
    )


def openai_raw(url: str) -> Client:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)

    async def call(prompt: str) -> str:
        reply = await client.completions.create(
            model=MODEL, prompt=prompt, max_tokens=MAX_TOKENS, temperature=0
        )
        return reply.choices[0].text

    return Client(
        "openai AsyncOpenAI completions",
        lambda: call("warm up"),
        lambda p, n: _gated(call, p, n),
        client.close,
    )


def chat_openai(url: str) -> Client:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{url}/v1", api_key="unused", model=MODEL,  # type: ignore[call-arg]
                      max_tokens=MAX_TOKENS, temperature=0, max_retries=0)  # fmt: skip

    async def run(prompts: Sequence[str], limit: int) -> list[str]:
        replies = await chat.abatch(list(prompts), config={"max_concurrency": limit})
        return [str(r.content) for r in replies]

    return Client(
        "langchain-openai ChatOpenAI (chat)", lambda: chat.ainvoke("warm up"), run, _nothing
    )
