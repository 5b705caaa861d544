"""runtime.start's stderr filter: the libraries' start-up chatter dropped, everything else kept,
and one filter per process however often an entry point (or a script calling one) starts."""

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

SCRIPT = """
import os
from mnist_zoo import runtime
first = runtime.filter_library_noise()
runtime.start()  # gpu_check.main starts again after a script that started first
os.write(2, b"I0000 00:00:1.000 123 cpu_feature_guard.cc:1] This TensorFlow binary is optimized\\n")
os.write(2, b"a stage's own line\\n")
print(first is runtime.filter_library_noise(), first.pid)
"""


def test_the_filter_drops_the_noise_keeps_the_rest_and_is_installed_once():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "a stage's own line\n"
    same, pid = result.stdout.split()
    assert same == "True" and int(pid) > 0
