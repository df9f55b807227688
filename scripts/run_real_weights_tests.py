"""Run the standard tests that need real Zephyr weights (xfailed on the tiny model).

Those tests check that the model itself chooses a tool and its arguments (``tool_calling``,
its async twin, ``unicode_tool_call_integration``, ``agent_loop``). Run this where the weights
are: a GPU machine, or any machine with HuggingFaceH4/zephyr-7b-beta in the Hugging Face cache.

    python scripts/run_real_weights_tests.py                      # zephyr-7b-beta from the cache
    python scripts/run_real_weights_tests.py --model /models/zephyr --dtype bfloat16

Exit code: pytest's, or 3 when no real weights are available here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from zephyr_integrations.chat_model import ZEPHYR_7B_BETA  # noqa: E402
from zephyr_integrations.local_models import zephyr_in_cache  # noqa: E402

EXIT_UNAVAILABLE = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help=f"a model folder or Hub id (default {ZEPHYR_7B_BETA})")
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"]
    )
    args, pytest_args = parser.parse_known_args()
    model = args.model or ZEPHYR_7B_BETA
    if not Path(model).is_dir() and not zephyr_in_cache(model):
        print(f"no real weights here: {model!r} is neither a model folder nor in the Hugging "
              "Face cache; pass --model PATH", file=sys.stderr)  # fmt: skip
        return EXIT_UNAVAILABLE
    tests = "(test_tool_calling and not no_arguments) or test_unicode_tool_call or test_agent_loop"
    env = {**os.environ, "ZEPHYR_REAL_MODEL": model, "ZEPHYR_REAL_DTYPE": args.dtype}
    command = [sys.executable, "-m", "pytest", "tests/integration/test_standard_real.py",
               "-k", tests, "-p", "no:cacheprovider", "-v", *pytest_args]  # fmt: skip
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
