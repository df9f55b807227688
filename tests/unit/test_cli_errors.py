"""Every `zephyr` error is one line on stderr with exit 2 (bad input), nothing created on failure.

A table of bad inputs (files, paths, names, values, model specs), run in-process; the cases that
need a socket (no server: exit 3, a port in use) are in tests/integration/test_cli_errors.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import huggingface_hub.constants  # noqa: F401 - read now, not under a test's environment
import pytest
from typer.testing import CliRunner

from zephyr_integrations.cli import app
from zephyr_integrations.preferences.records import prompt_id

SECRET = "sk-planted-secret-4242"
URL_PASSWORD = "pw-planted-9876"


def read_only_folder(tmp: Path) -> Path:
    """A folder nobody may create files in: a 0555 folder, or /sys when tests run as root
    (root ignores permission bits)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def rated_row(i: int) -> dict[str, Any]:
    prompt = f"prompt {i}"
    return {
        "prompt_id": prompt_id(prompt),
        "prompt": prompt,
        "messages": [{"role": "user", "content": prompt}],
        "source": "human",
        "completions": [
            {"model": "big", "response": f"a careful answer {i}", "score": 4.5},
            {"model": "small", "response": f"meh {i}", "score": 2.0},
        ],
    }


def candidate_row(i: int) -> dict[str, Any]:
    prompt = f"prompt {i // 2}"
    return {
        "prompt_id": prompt_id(prompt),
        "prompt": prompt,
        "messages": [{"role": "user", "content": prompt}],
        "model": f"model-{i % 2}",
        "sample": 0,
        "response": f"answer {i}",
    }


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "What is DPO?"}\n', encoding="utf-8")
    (tmp_path / "rated.jsonl").write_text(
        "".join(json.dumps(rated_row(i)) + "\n" for i in range(4)), encoding="utf-8"
    )
    (tmp_path / "cands.jsonl").write_text(
        "".join(json.dumps(candidate_row(i)) + "\n" for i in range(4)), encoding="utf-8"
    )
    (tmp_path / "latin1.jsonl").write_bytes('{"prompt": "caf\xe9 cr\xe8me"}\n'.encode("latin-1"))
    (tmp_path / "notjson.jsonl").write_text("{prompt: nope\n", encoding="utf-8")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    (tmp_path / "exists.jsonl").write_text("{}\n", encoding="utf-8")
    model = tmp_path / "no-config-model"
    model.mkdir()
    return {
        "tmp": str(tmp_path),
        "prompts": str(tmp_path / "prompts.jsonl"),
        "rated": str(tmp_path / "rated.jsonl"),
        "cands": str(tmp_path / "cands.jsonl"),
        "latin1": str(tmp_path / "latin1.jsonl"),
        "notjson": str(tmp_path / "notjson.jsonl"),
        "empty": str(tmp_path / "empty.jsonl"),
        "afile": str(tmp_path / "afile"),
        "adir": str(tmp_path / "adir"),
        "exists": str(tmp_path / "exists.jsonl"),
        "model": str(model),
        "ro": str(read_only_folder(tmp_path)),
        "out": str(tmp_path / "out.jsonl"),
        "outdir": str(tmp_path / "outdir"),
        "missing": str(tmp_path / "missing.jsonl"),
        "long": "d" * 300,
        "secret": SECRET,
        "pw": URL_PASSWORD,
    }


TGI = "tgi:http://127.0.0.1:9"
C = ["collect", "{prompts}", "-o", "{out}", "--no-progress"]
B = ["binarize", "{rated}"]
E = ["export", "{rated}"]
P = ["annotate", "push", "{cands}"]
L = ["annotate", "pull"]
BAD_INPUTS: list[tuple[str, list[str], str]] = [
    # --- files ---
    ("collect-missing-prompts", ["collect", "{missing}", "-m", TGI, "-o", "{out}"], "missing"),
    ("collect-latin1-prompts", ["collect", "{latin1}", "-m", TGI, "-o", "{out}"], "UTF-8"),
    ("collect-not-json", ["collect", "{notjson}", "-m", TGI, "-o", "{out}"], "notjson.jsonl:1"),
    ("collect-empty-file", ["collect", "{empty}", "-m", TGI, "-o", "{out}"], "no prompts"),
    ("collect-prompts-is-folder", ["collect", "{adir}", "-m", TGI, "-o", "{out}"], "adir"),
    ("binarize-missing-input", ["binarize", "{missing}", "-o", "{out}"], "missing"),
    ("binarize-latin1-input", ["binarize", "{latin1}", "-o", "{out}"], "UTF-8"),
    ("binarize-not-json", ["binarize", "{notjson}", "-o", "{out}"], "notjson.jsonl:1"),
    ("push-latin1", [*P[:2], "{latin1}", "--dataset", "d"], "UTF-8"),
    ("push-missing-file", [*P[:2], "{missing}", "--dataset", "d"], "missing"),
    ("push-not-json", [*P[:2], "{notjson}", "--dataset", "d"], "notjson.jsonl:1"),
    ("judge-missing-file", ["judge", "{missing}", "-m", TGI, "-o", "{out}"], "missing"),
    ("judge-latin1", ["judge", "{latin1}", "-m", TGI, "-o", "{out}"], "UTF-8"),
    # --- output paths ---
    ("collect-out-is-folder", [*C[:3], "{adir}", "-m", TGI], "adir"),
    ("collect-out-read-only", [*C[:3], "{ro}/c.jsonl", "-m", TGI], "c.jsonl"),
    ("collect-out-under-file", [*C[:3], "{afile}/c.jsonl", "-m", TGI], "afile"),
    ("binarize-out-under-file", [*B, "-o", "{afile}/pairs.jsonl"], "afile"),
    ("binarize-out-read-only", [*B, "-o", "{ro}/pairs.jsonl"], "pairs.jsonl"),
    ("binarize-out-is-folder", [*B, "-o", "{adir}", "--overwrite"], "adir"),
    ("binarize-out-exists", [*B, "-o", "{exists}"], "already exists"),
    ("export-out-read-only", [*E, "-o", "{ro}/ds"], "ds"),
    ("export-out-under-file", [*E, "-o", "{afile}/ds"], "afile"),
    ("export-out-exists", [*E, "-o", "{adir}"], "already exists"),
    ("report-out-read-only", ["report", "{rated}", "-o", "{ro}/rep"], "rep"),
    ("pull-out-read-only", [*L, "--dataset", "d", "--out", "{ro}/h.jsonl"], "h.jsonl"),
    ("pull-out-is-folder", [*L, "--dataset", "d", "--out", "{adir}"], "adir"),
    ("pull-out-under-file", [*L, "--dataset", "d", "--out", "{afile}/h.jsonl"], "afile"),
    ("judge-out-is-folder", ["judge", "{cands}", "-m", TGI, "-o", "{adir}"], "adir"),
    # --- names ---
    ("push-empty-dataset-name", [*P, "--dataset", ""], "--dataset"),
    ("push-300-char-dataset-name", [*P, "--dataset", "{long}"], "--dataset"),
    ("push-blank-dataset-name", [*P, "--dataset", "   "], "--dataset"),
    ("push-empty-workspace", [*P, "--dataset", "d", "--workspace", ""], "--workspace"),
    ("pull-empty-dataset-name", [*L, "--dataset", "", "--out", "{out}"], "--dataset"),
    ("pull-300-char-dataset-name", [*L, "--dataset", "{long}", "--out", "{out}"], "--dataset"),
    ("push-unknown-template", [*P, "--dataset", "d", "--template", "stars"], "stars"),
    ("binarize-unknown-strategy", [*B, "-o", "{out}", "--strategy", "nope"], "nope"),
    ("export-unknown-format", [*E, "-o", "{outdir}", "--format", "nope"], "nope"),
    ("chat-unknown-backend", ["chat", "hi", "--backend", "nope"], "nope"),
    ("serve-unknown-backend", ["serve", "--backend", "nope", "--port", "0"], "nope"),
    # --- values ---
    ("collect-negative-retries", [*C, "-m", TGI, "--max-retries", "-1"], "max-retries"),
    ("collect-n-zero", [*C, "-m", TGI, "-n", "0"], "n"),
    ("collect-concurrency-zero", [*C, "-m", TGI, "--concurrency", "0"], "concurrency"),
    (
        "judge-negative-retries",
        ["judge", "{cands}", "-m", TGI, "-o", "{out}", "--max-retries", "-1"],
        "max-retries",
    ),
    ("push-min-submitted-zero", [*P, "--dataset", "d", "--min-submitted", "0"], "min-submitted"),
    ("binarize-ties-maybe", [*B, "-o", "{out}", "--ties", "maybe"], "maybe"),
    (
        "binarize-score-range-upside-down",
        [*B, "-o", "{out}", "--min-score", "5", "--max-score", "1"],
        "score",
    ),
    ("export-test-size-above-one", [*E, "-o", "{outdir}", "--test-size", "1.5"], "test"),
    (
        "export-push-needs-hub-format",
        [*E, "-o", "{outdir}", "--format", "jsonl", "--push-to-hub", "me/x"],
        "push-to-hub",
    ),
    ("serve-port-99999", ["serve", "--port", "99999"], "--port"),
    ("serve-port-negative", ["serve", "--port", "-1"], "--port"),
    ("serve-max-input-zero", ["serve", "--port", "0", "--max-input-tokens", "0"], "max-input"),
    ("up-port-99999", ["annotate", "up", "--port", "99999"], "--port"),
    ("status-missing-config", ["annotate", "status", "--config", "{tmp}/nope.toml"], "nope.toml"),
    ("status-config-not-toml", ["annotate", "status", "--config", "{afile}"], "afile"),
    ("status-data-dir-is-file", ["annotate", "status", "--data-dir", "{afile}"], "afile"),
    ("down-data-dir-is-file", ["annotate", "down", "--data-dir", "{afile}"], "afile"),
    ("chat-negative-temperature", ["chat", "hi", "--temperature", "-1"], "temperature"),
    ("chat-max-tokens-zero", ["chat", "hi", "--max-tokens", "0"], "max"),
    ("chat-not-a-number", ["chat", "hi", "--temperature", "hot"], "temperature"),
    ("serve-missing-model", ["serve", "--model", "{tmp}/nope", "--port", "0"], "nope"),
    ("serve-model-without-config", ["serve", "--model", "{model}", "--port", "0"], "config.json"),
    # --- model specs ---
    ("spec-unknown-kind", [*C, "-m", "gpt:gpt-4"], "KIND"),
    ("spec-ftp-url", [*C, "-m", "tgi:ftp://x"], "ftp://x"),
    ("spec-negative-temperature", [*C, "-m", f"{TGI},temperature=-1,label=mine"], "temperature"),
    ("spec-unknown-parameter", [*C, "-m", f"{TGI},temprature=0.7"], "temprature"),
    ("spec-not-key-value", [*C, "-m", f"{TGI},temperature"], "key=value"),
    ("spec-missing-model-folder", [*C, "-m", "transformers:{tmp}/nope"], "nope"),
    ("spec-bad-import", [*C, "-m", "import:tests.nowhere:x"], "tests.nowhere"),
    ("spec-n-zero", [*C, "-m", f"{TGI},n=0"], "n=0"),
    ("spec-api-key-with-bad-value", [*C, "-m", f"{TGI},api_key={{secret}},top_p=7"], "top_p"),
    ("spec-url-password", [*C, "-m", "tgi:http://me:{pw}@127.0.0.1:9,temperature=-2"], "me:***@"),
    ("judge-spec-n", ["judge", "{cands}", "-m", f"{TGI},n=2", "-o", "{out}"], "n does not apply"),
    (
        "chat-url-password",
        ["chat", "hi", "--backend", "tgi", "--base-url", "ftp://u:{pw}@h"],
        "u:***@",
    ),
    ("chat-ftp-base-url", ["chat", "hi", "--backend", "tgi", "--base-url", "ftp://x"], "ftp://x"),
]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("args", "needle"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(
    files: dict[str, str], args: list[str], needle: str
) -> None:
    root = Path(files["tmp"])
    before = tree(root)
    argv = [a.format(**files) for a in args]
    env = {"COLUMNS": "80", "NO_COLOR": "1", "HF_TOKEN": SECRET}
    result = CliRunner(env=env).invoke(app, argv)
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle.format(**files) in lines[0]
    assert "Traceback" not in result.output
    for secret in (SECRET, URL_PASSWORD):
        assert secret not in result.output
    assert "run the same command again" not in result.output
    assert tree(root) == before  # nothing created, not even an empty output


def test_the_table_is_large_enough() -> None:
    assert len(BAD_INPUTS) >= 40
    assert len({c[0] for c in BAD_INPUTS}) == len(BAD_INPUTS)


def test_export_push_to_hub_offline_is_exit_3_before_anything_is_written(
    files: dict[str, str],
) -> None:
    root = Path(files["tmp"])
    before = tree(root)
    env = {"COLUMNS": "80", "NO_COLOR": "1", "HF_TOKEN": SECRET, "HF_HUB_OFFLINE": "1"}
    argv = ["export", files["rated"], "-o", files["outdir"], "--push-to-hub", "me/prefs"]
    result = CliRunner(env=env).invoke(app, argv)
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        "error: --push-to-hub: the Hugging Face Hub is off (HF_HUB_OFFLINE is set); unset it to "
        "upload, or export without --push-to-hub"
    ]
    assert SECRET not in result.output
    assert tree(root) == before
