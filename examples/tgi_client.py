"""ChatZephyr as a client of a Text Generation Inference server.

With --base-url, talks to your TGI (for example one started with
`docker run --gpus all -p 8080:80 ghcr.io/huggingface/text-generation-inference
--model-id HuggingFaceH4/zephyr-7b-beta`). Without it, starts the project's TGI-protocol server
on 127.0.0.1 in this process, backed by the local model, so the example runs offline on a CPU.

    python examples/tgi_client.py [--base-url http://127.0.0.1:8080] [--api-key ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator

from zephyr_integrations import ChatZephyr

QUESTIONS = ["What is the capital of France?", "What is 2 + 2?", "Name a primary colour."]


@contextlib.contextmanager
def server_url(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url
        return
    from zephyr_integrations.backends.transformers import TransformersBackend
    from zephyr_integrations.local_models import default_model
    from zephyr_integrations.serving import TGIServer

    model = default_model()
    with TGIServer(TransformersBackend(model), model_id=model) as server:
        print(f"started a local TGI-protocol server at {server.url} ({model})", file=sys.stderr)
        yield server.url


def main(base_url: str | None = None, api_key: str | None = None) -> list[str]:
    with server_url(base_url) as url:
        llm = ChatZephyr(
            backend="tgi", base_url=url, api_key=api_key, temperature=0, max_tokens=48, timeout=60
        )
        reply = llm.invoke(QUESTIONS[0])
        print(reply.content)
        print(f"usage: {reply.usage_metadata}", file=sys.stderr)
        print(f"metadata: {reply.response_metadata}", file=sys.stderr)
        # Concurrent calls: TGI batches them on the server.
        replies = asyncio.run(llm.abatch(QUESTIONS, config={"max_concurrency": 8}))
        for question, answer in zip(QUESTIONS, replies, strict=True):
            print(f"- {question} -> {str(answer.content).strip()[:80]}")
        return [str(r.content) for r in replies]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("TGI_URL"))
    parser.add_argument("--api-key", default=os.environ.get("TGI_API_KEY"))
    args = parser.parse_args()
    main(args.base_url, args.api_key)
