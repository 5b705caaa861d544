"""The regression gate: passes within the threshold, fails past it against a git revision."""

import json
import sys
from pathlib import Path

import pytest

from mnist_zoo import gate
from tests.conftest import run


def test_regressions_respect_the_threshold():
    base = {"a": 0.99, "b": 0.98, "gone": 0.5}
    current = {"a": 0.985, "b": 0.97, "new": 0.1}
    assert gate.regressions(base, current, max_drop=0.02) == []
    assert gate.regressions(base, current, max_drop=0.005) == ["b: 0.9800 -> 0.9700 (-0.0100, allowed -0.0050)"]
    assert gate.regressions(base, current, max_drop=0.0) == [
        "a: 0.9900 -> 0.9850 (-0.0050, allowed -0.0000)",
        "b: 0.9800 -> 0.9700 (-0.0100, allowed -0.0000)",
    ]


def write_accuracies(accuracies: dict[str, float]) -> None:
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/test_accuracy.json").write_text(json.dumps(accuracies))


def test_gate_against_a_revision(in_tmp_project: Path, capsys: pytest.CaptureFixture):
    """The base side's metrics are a DVC output in the cache, not a git file, as in the pipeline."""
    run(["git", "init", "-q"], in_tmp_project)
    run([str(Path(sys.executable).with_name("dvc")), "init", "-q"], in_tmp_project)
    Path("dvc.yaml").write_text("stages:\n  report:\n    cmd: 'true'\n    metrics: [metrics/test_accuracy.json]\n")
    write_accuracies({"lenet5": 0.98, "flagship": 0.995})
    run([str(Path(sys.executable).with_name("dvc")), "commit", "-q", "--force"], in_tmp_project)
    run(["git", "add", "-A"], in_tmp_project)
    run(["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "base"], in_tmp_project)
    assert "test_accuracy.json" not in run(["git", "ls-files"], in_tmp_project).stdout
    write_accuracies({"lenet5": 0.979, "flagship": 0.985})

    assert gate.main(["--rev", "HEAD", "--max-drop", "0.02"]) == 0
    assert gate.main(["--rev", "HEAD"]) == 1  # params.yaml's 0.005: flagship lost 0.01
    output = capsys.readouterr().out
    assert "flagship: 0.9950 -> 0.9850" in output and "lenet5: 0.98" not in output.split("regressions")[-1]
    with pytest.raises(ValueError, match="Cannot read metrics/test_accuracy.json at revision 'nope'"):
        gate.main(["--rev", "nope"])
