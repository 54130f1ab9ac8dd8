"""Run the kernel tests once more with numba's JIT disabled.

The kernel bodies then execute as plain Python, so coverage sees them and any
difference between the compiled and the interpreted semantics shows up.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

KERNEL_TESTS = sorted(str(p) for p in Path(__file__).parent.glob("test_*.py") if p.name != Path(__file__).name)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already running without the JIT")
def test_kernel_tests_pass_without_jit():
    assert KERNEL_TESTS, "no kernel test files found"
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *KERNEL_TESTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
