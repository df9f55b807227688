"""TRL 1.16's DPOTrainer trains on the exported train_prefs, read back with `load_dataset`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from zephyr_integrations.plugins import get_exporter
from zephyr_integrations.preferences.binarize import binarize
from zephyr_integrations.preferences.dataset_card import Provenance
from zephyr_integrations.preferences.export import export
from zephyr_integrations.preferences.records import PreferenceRow, preference_row
from zephyr_integrations.preferences.schema import TRL_COLUMNS
from zephyr_integrations.preferences.splits import make_splits


def _rows(n: int) -> list[PreferenceRow]:
    rows = [
        preference_row(
            f"what is {i} plus two?",
            [
                ("good", f"{i} plus two is {i + 2}.", 9.0),
                ("bad", "no idea, ask someone else", 2.0),
                ("meh", f"maybe {i + 3}?", 4.5),
            ],
        )
        for i in range(n)
    ]
    return rows


def train_two_steps(train: Any, tiny_model_path: Path, tmp_path: Path) -> None:
    """DPOTrainer (TRL 1.16, CPU) trains two steps on ``train`` with finite losses."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_path))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_path))
    config = DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        beta=0.1,
        max_length=128,
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        seed=42,
    )
    trainer = DPOTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer)
    output = trainer.train()
    assert output.global_step == 2
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert math.isfinite(output.training_loss)


def test_dpo_trainer_runs_two_steps_on_exported_train_prefs(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    from datasets import load_dataset

    result = binarize(_rows(24))
    splits = make_splits(result.pairs, test_size=0.2)
    folder = export(splits, tmp_path / "prefs", about=Provenance.from_result(result, test_size=0.2))
    train_prefs = load_dataset(str(folder), split="train_prefs")
    assert train_prefs.num_rows == splits["train_prefs"].num_rows > 8
    # The string-prompt trap: a full row (string `prompt`, conversational `chosen`) raises
    # TypeError in TRL; the handbook hands it chosen/rejected only (implicit prompt).
    train = train_prefs.select_columns(list(TRL_COLUMNS))

    train_two_steps(train, tiny_model_path, tmp_path)


def test_dpo_trainer_runs_two_steps_on_the_trl_format_with_every_column(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """The `trl` format: explicit conversational prompt, one-turn answers, nothing to select."""
    from datasets import load_dataset

    result = binarize(_rows(24))
    splits = make_splits(result.pairs, test_size=0.2, sft=True)
    about = Provenance.from_result(result, test_size=0.2)
    folder = export(splits, tmp_path / "trl", get_exporter("trl"), about=about)
    assert sorted(p.name.split("-")[0] for p in (folder / "data").iterdir()) == [
        "test_prefs",
        "train_prefs",
    ]  # the sft splits hold no pairs: left out
    train = load_dataset(str(folder), split="train_prefs")
    assert train.column_names == [
        "prompt",
        "chosen",
        "rejected",
        "prompt_id",
        "score_chosen",
        "score_rejected",
    ]
    row = train[0]
    assert [turn["role"] for turn in row["prompt"]] == ["user"]
    assert [turn["role"] for turn in row["chosen"]] == ["assistant"]
    assert "plus two is" in row["chosen"][0]["content"]  # the "good" answer, scored 9
    assert row["score_chosen"] == 9.0 > row["score_rejected"]

    train_two_steps(train, tiny_model_path, tmp_path)


def test_full_rows_hit_the_string_prompt_trap(tiny_model_path: Path, tmp_path: Path) -> None:
    """Why TRL_COLUMNS exists: the whole H4 row is not a valid TRL input."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    result = binarize(_rows(4))
    rows = make_splits(result.pairs, test_size=0.0)["train_prefs"]
    config = DPOConfig(
        output_dir=str(tmp_path / "dpo"), max_steps=1, bf16=False, use_cpu=True, report_to=[]
    )
    # TRL decides "conversational or not" from whichever of the row's keys a set yields first,
    # so the mixed row fails either way, but with TypeError or AttributeError by hash seed.
    with pytest.raises((TypeError, AttributeError), match="concatenate str|has no attribute"):
        DPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(str(tiny_model_path)),
            args=config,
            train_dataset=Dataset(rows),
            processing_class=AutoTokenizer.from_pretrained(str(tiny_model_path)),
        )
