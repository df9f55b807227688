"""benchmarks/gpu_decode.py is ready for a GPU: its whole path runs here in its tiny CPU form, and
without CUDA the default run says so in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_decode.py"


def test_the_tiny_cpu_form_measures_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    args = ["--shape", "tiny", "--device", "cpu", "--dtype", "float32", "--concurrency", "1,2"]
    subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--new-tokens", "4", "--json", str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    assert report["shape"] == "tiny" and report["bandwidth_bound_tokens_per_s"] is None
    assert report["single_request_generate_tokens_per_s"] > 0
    for rows in ("1", "2"):
        figures = report["throughput_by_concurrency"][rows]
        assert figures["engine_tokens_per_s"] > 0 and figures["raw_generate_tokens_per_s"] > 0


def test_without_cuda_the_default_run_says_so() -> None:
    if torch.cuda.is_available():
        pytest.skip("on a GPU machine the default run is the real measurement")
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert "no CUDA device here" in done.stderr
