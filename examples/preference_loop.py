"""The preference loop step by step, offline: collect -> judge -> (Argilla) -> binarize -> export.

Two "models" answer over the TGI protocol (the project's test server in front of a scripted
model, so this runs anywhere in seconds); put your TGI URL or any LangChain chat model in their
place. The judge is scripted the same way and writes UltraFeedback ratings. With
ARGILLA_API_URL and ARGILLA_API_KEY set, the judged candidates are also pushed to Argilla, with the
judge's ratings as suggestions. Then: AI-feedback pairs (the dDPO setting) and a dataset folder
in ultrafeedback_binarized's schema.

    .venv/bin/python examples/preference_loop.py [output-folder]
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

from zephyr_integrations import ChatZephyr
from zephyr_integrations.preferences.collect import Generator, collect
from zephyr_integrations.preferences.feedback import judge
from zephyr_integrations.preferences.prompts import read_prompts
from zephyr_integrations.preferences.records import ULTRAFEEDBACK_ASPECTS, from_candidates
from zephyr_integrations.serving import TGIServer
from zephyr_integrations.testing.scripted_backend import ScriptedBackend

PROMPTS = [
    "What is direct preference optimization?",
    "Name three prime numbers.",
    "Why is the sky blue?",
]


def answer(prompt: str) -> str:
    """A scripted generator: a short answer for one model, a longer one for the other."""
    question = prompt.rsplit("<|user|>\n", 1)[-1].split("</s>")[0]
    return f"A short answer to: {question}"


def longer(prompt: str) -> str:
    return answer(prompt) + " With more detail, an example, and a caveat about what is unknown."


def ratings(prompt: str) -> str:
    """A scripted judge: longer answers rate higher (a real judge reads them)."""
    text = re.split(r"# Answer to rate\n\n", prompt)[-1].split("</s>")[0]
    value = max(1, min(5, len(text.split()) // 4))
    aspect = {"rating": value, "rationale": f"{len(text.split())} words, rated {value}."}
    return json.dumps({name: aspect for name in ULTRAFEEDBACK_ASPECTS})


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    prompts = folder / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS))
    servers = [
        TGIServer(ScriptedBackend("short-7b", reply=answer), model_id="short-7b").start(),
        TGIServer(ScriptedBackend("long-7b", reply=longer), model_id="long-7b").start(),
        TGIServer(ScriptedBackend("judge", reply=ratings, grammar=True), model_id="judge").start(),
    ]
    try:
        short, long, judge_url = (server.url for server in servers)

        # 1. Candidates: 2 samples per prompt from each model, each with its own parameters.
        generators = [
            Generator(ChatZephyr(backend="tgi", base_url=short), {"temperature": 0.7, "seed": 1}),
            Generator(ChatZephyr(backend="tgi", base_url=long), {"temperature": 1.0, "seed": 1}),
        ]
        report = collect(read_prompts(prompts), generators, folder / "candidates.jsonl", n=2)
        print(f"1. collect: {report.written} candidates -> {report.output}")

        # 2. AI feedback: UltraFeedback's four aspects through with_structured_output.
        judge_model = ChatZephyr(backend="tgi", base_url=judge_url, temperature=0, max_tokens=400)
        rated = judge(folder / "candidates.jsonl", judge_model, folder / "judged.jsonl")
        print(f"2. judge: {rated.rated} rated by {rated.judge}, {len(rated.failures)} failed")
        rows = [json.loads(line) for line in (folder / "judged.jsonl").read_text().splitlines()]
    finally:
        for server in servers:
            server.stop()

    # 3. Argilla, when one is running: the judge's ratings arrive as suggestions.
    if os.environ.get("ARGILLA_API_URL") and os.environ.get("ARGILLA_API_KEY"):
        from zephyr_integrations.preferences.argilla.client import connect
        from zephyr_integrations.preferences.argilla.push import push_candidates
        from zephyr_integrations.preferences.argilla.templates import RatingTemplate

        client = connect(os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"])
        pushed = push_candidates(client, rows, dataset="preference-loop", template=RatingTemplate())
        print(f"3. argilla: {pushed.records} records in {pushed.dataset}")
    else:
        print("3. argilla: skipped (set ARGILLA_API_URL and ARGILLA_API_KEY to push)")

    # 4. Pairs from AI feedback alone, and 5. a dataset folder in ultrafeedback_binarized's schema.
    from zephyr_integrations.preferences.binarize import binarize
    from zephyr_integrations.preferences.export import export, write_jsonl
    from zephyr_integrations.preferences.schema import pairs_only

    pairs = binarize(from_candidates(rows))
    print(f"4. binarize: {pairs.pairs.num_rows} pairs from {pairs.records} prompts")
    splits = {"train_prefs": pairs_only(pairs.pairs)}
    target = export(splits, folder / "dataset", write_jsonl, overwrite=True)
    print(f"5. export: {sorted(p.name for p in target.iterdir())} in {target}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as temporary:
            main(Path(temporary))
