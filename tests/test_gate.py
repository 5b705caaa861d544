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
    """A summary as report writes it: the short labels' errors first, accuracy per variant after."""
    Path("results").mkdir(exist_ok=True)
    summary = {"lnt5": 2.0, "flag": 0.5, "accuracy": accuracies, "epochs": dict.fromkeys(accuracies, 3)}
    Path("results/metrics.json").write_text(json.dumps(summary))


def test_gate_against_a_revision(in_tmp_project: Path, capsys: pytest.CaptureFixture):
    """The base side's summary is a git file, as the pipeline's report writes it (`cache: false`)."""
    run(["git", "init", "-q"], in_tmp_project)
    run([str(Path(sys.executable).with_name("dvc")), "init", "-q"], in_tmp_project)
    Path("dvc.yaml").write_text(
        "stages:\n  report:\n    cmd: 'true'\n    metrics: [results/metrics.json: {cache: false}]\n"
    )
    write_accuracies({"lenet5": 0.98, "flagship": 0.995})
    run(["git", "add", "-A"], in_tmp_project)
    run(["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "base"], in_tmp_project)
    assert "results/metrics.json" in run(["git", "ls-files"], in_tmp_project).stdout
    write_accuracies({"lenet5": 0.979, "flagship": 0.985})

    assert gate.main(["--rev", "HEAD", "--max-drop", "0.02"]) == 0
    assert gate.main(["--rev", "HEAD"]) == 1  # params.yaml's 0.005: flagship lost 0.01
    output = capsys.readouterr().out
    assert "flagship: 0.9950 -> 0.9850" in output and "lenet5: 0.98" not in output.split("regressions")[-1]
    with pytest.raises(ValueError, match="Cannot read the test accuracies in results/metrics.json at revision 'nope'"):
        gate.main(["--rev", "nope"])


@pytest.mark.parametrize("value", ["-0.1", "2"])
def test_a_max_drop_override_outside_0_to_1_is_refused(in_tmp_project: Path, value: str, capsys):
    with pytest.raises(SystemExit) as stopped:
        gate.main(["--rev", "HEAD", "--max-drop", value])
    assert stopped.value.code == 2 and f"--max-drop is {float(value):g}; give the share" in capsys.readouterr().err
