"""Per-call overhead of ChatZephyr(backend="tgi") over the raw huggingface_hub client.

Against the TGI-protocol server (its own process, zero-work scripted backend), interleaving the
clients call by call (each taking each place in the round in turn) so machine noise hits all of
them alike:

- invoke: ``ChatZephyr.invoke`` vs ``InferenceClient.text_generation`` with the same request
  (details and prompt-token counts, as ChatZephyr asks for). Target: at most the raw call
  (ratio <= 1.00, issue 14).
- streaming: time to the first chunk, ``ChatZephyr.stream`` vs the raw client's stream.
  Target: within 2 ms.
- the same calls through langchain-huggingface's ``ChatHuggingFace(HuggingFaceEndpoint)``.

    python benchmarks/tgi_overhead.py [--calls 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from zephyr_integrations.testing.server_process import scripted_server_process

QUESTION = "What is direct preference optimization, in one sentence?"
MAX_TOKENS = 8


def first_item_seconds(make_iterator: Callable[[], object]) -> float:
    started = time.perf_counter()
    iterator = iter(make_iterator())  # type: ignore[call-overload]
    next(iterator)
    elapsed = time.perf_counter() - started
    for _ in iterator:  # drain, so the connection is reusable
        pass
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    with scripted_server_process(model_id="HuggingFaceH4/zephyr-7b-beta") as server:
        result = measure(server.url, args.calls)

    # The stricter baseline: the raw call without the prompt-token count ChatZephyr reports.
    inv = result["invoke_ms"]
    raw_best = min(inv["raw_client"], inv["raw_client_no_prompt_count"])
    invoke_ratio = inv["chat_zephyr"] / raw_best
    ttfc_gap = result["ttfc_ms"]["chat_zephyr"] - result["ttfc_ms"]["raw_client"]
    invoke_ok, ttfc_ok = invoke_ratio <= 1.00, ttfc_gap <= 2.0
    hf_ratio = result["invoke_ms"]["chat_huggingface"] / result["invoke_ms"]["chat_zephyr"]
    print("| measurement (median per call) | raw client | ChatZephyr | ChatHuggingFace | target |")
    print("|---|---:|---:|---:|---|")
    ttfc = result["ttfc_ms"]
    print(
        f"| invoke | {inv['raw_client']:.2f} ms ({inv['raw_client_no_prompt_count']:.2f} ms "
        f"without prompt-token count) | {inv['chat_zephyr']:.2f} ms | "
        f"{inv['chat_huggingface']:.2f} ms | ChatZephyr / faster raw = {invoke_ratio:.3f}x "
        f"<= 1.00x: {'PASS' if invoke_ok else 'FAIL'} |"
    )
    cpu = result["invoke_cpu_ms"]
    print(
        f"| invoke, client CPU per call (mean) | {cpu['raw_client']:.2f} ms "
        f"({cpu['raw_client_no_prompt_count']:.2f} ms) | {cpu['chat_zephyr']:.2f} ms | "
        f"{cpu['chat_huggingface']:.2f} ms | ChatZephyr / raw = "
        f"{cpu['chat_zephyr'] / cpu['raw_client']:.3f}x (less noisy under load) |"
    )
    print(
        f"| stream, time to first chunk | {ttfc['raw_client']:.2f} ms | "
        f"{ttfc['chat_zephyr']:.2f} ms | {ttfc['chat_huggingface']:.2f} ms | "
        f"ChatZephyr - raw = {ttfc_gap:+.2f} ms <= 2 ms: {'PASS' if ttfc_ok else 'FAIL'} |"
    )
    print(f"\nChatHuggingFace / ChatZephyr per invoke: {hf_ratio:.2f}x ({args.calls} calls each)")
    floor_ms = langchain_floor(max(args.calls, 500)) * 1000
    print(
        f"LangChain's own invoke (a chat model that does nothing): {floor_ms:.3f} ms, "
        f"{floor_ms / raw_best:.1%} of the raw call; ChatZephyr's own share: "
        f"{inv['chat_zephyr'] - raw_best - floor_ms:+.3f} ms"
    )
    if args.json:
        result.update(invoke_ratio=invoke_ratio, ttfc_gap_ms=ttfc_gap, hf_ratio=hf_ratio)
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if invoke_ok and ttfc_ok else 1


def langchain_floor(calls: int) -> float:
    """Median seconds of ``invoke`` on a chat model that does nothing: LangChain's own cost."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class NoOp(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "no-op"

        def _generate(self, messages: list[BaseMessage], *args: object, **kw: object) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="x"))])

    model, times = NoOp(), []
    for _ in range(calls):
        started = time.perf_counter()
        model.invoke([("user", QUESTION)])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(url: str, calls: int) -> dict[str, dict[str, float]]:
    import huggingface_hub.constants
    from huggingface_hub import InferenceClient
    from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

    from zephyr_integrations import ChatZephyr
    from zephyr_integrations.template import format_messages

    huggingface_hub.constants.HF_HUB_OFFLINE = False  # loopback only
    messages = [("user", QUESTION)]
    prompt = format_messages(messages)
    raw = InferenceClient(base_url=url, timeout=60)
    zephyr = ChatZephyr(backend="tgi", base_url=url, max_tokens=MAX_TOKENS, temperature=0)
    endpoint = HuggingFaceEndpoint(  # type: ignore[call-arg]
        endpoint_url=url, max_new_tokens=MAX_TOKENS, do_sample=False
    )
    hf_chat = ChatHuggingFace(llm=endpoint)

    invokers: dict[str, Callable[[], object]] = {
        "raw_client_no_prompt_count": lambda: raw.text_generation(
            prompt, details=True, return_full_text=False, max_new_tokens=MAX_TOKENS, do_sample=False
        ),
        "raw_client": lambda: raw.text_generation(
            prompt,
            details=True,
            decoder_input_details=True,
            return_full_text=False,
            max_new_tokens=MAX_TOKENS,
            do_sample=False,
        ),
        "chat_zephyr": lambda: zephyr.invoke(messages),
        "chat_huggingface": lambda: hf_chat.invoke(messages),
    }
    streamers: dict[str, Callable[[], object]] = {
        "raw_client": lambda: raw.text_generation(
            prompt, stream=True, details=True, return_full_text=False, max_new_tokens=MAX_TOKENS
        ),
        "chat_zephyr": lambda: zephyr.stream(messages),
        "chat_huggingface": lambda: hf_chat.stream(messages),
    }
    invoke: dict[str, list[float]] = {name: [] for name in invokers}
    cpu = dict.fromkeys(invokers, 0.0)
    ttfc: dict[str, list[float]] = {name: [] for name in streamers}
    for call in invokers.values():  # warm up: connections, /info, tokenizers
        call()
    for make in streamers.values():
        first_item_seconds(make)
    names = list(invokers)
    for turn in range(calls):
        # Each client takes each place in the round in turn: no one always follows a stream.
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            call = invokers[name]
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            invoke[name].append(time.perf_counter() - started)
            cpu[name] += time.process_time() - cpu_started
    # Streams in a phase of their own: ChatHuggingFace's streams leave work behind (connections
    # the server keeps a thread on) that slowed whichever invoke came next.
    for _ in range(calls):
        for name, make in streamers.items():
            ttfc[name].append(first_item_seconds(make))
    return {
        "invoke_ms": {k: statistics.median(v) * 1000 for k, v in invoke.items()},
        "ttfc_ms": {k: statistics.median(v) * 1000 for k, v in ttfc.items()},
        "invoke_cpu_ms": {k: v / calls * 1000 for k, v in cpu.items()},
    }


if __name__ == "__main__":
    sys.exit(main())
