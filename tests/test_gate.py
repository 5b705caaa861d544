"""The regression gate: passes within the threshold, fails past it against a git revision."""

import json
from pathlib import Path

import pytest

from stages import gate
from tests.conftest import run


def test_regressions_respect_the_threshold():
    base = {"a": 0.99, "b": 0.98, "gone": 0.5}
    current = {"a": 0.985, "b": 0.97, "new": 0.1}
    assert gate.regressions(base, current, max_drop=0.02) == []
    assert gate.regressions(base, current, max_drop=0.005) == [
        "b: 0.9800 -> 0.9700 (-0.0100, allowed -0.0050)"]
    assert gate.regressions(base, current, max_drop=0.0) == [
        "a: 0.9900 -> 0.9850 (-0.0050, allowed -0.0000)", "b: 0.9800 -> 0.9700 (-0.0100, allowed -0.0000)"]


def write_accuracies(accuracies: dict[str, float]) -> None:
    for name, accuracy in accuracies.items():
        path = Path("metrics/evaluation") / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"accuracy": accuracy}))


def test_gate_against_a_revision(in_tmp_project: Path, capsys: pytest.CaptureFixture):
    run(["git", "init", "-q"], in_tmp_project)
    write_accuracies({"lenet5": 0.98, "flagship": 0.995})
    run(["git", "add", "-A"], in_tmp_project)
    run(["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "base"], in_tmp_project)
    write_accuracies({"lenet5": 0.979, "flagship": 0.985})

    assert gate.main(["--rev", "HEAD", "--max-drop", "0.02"]) == 0
    assert gate.main(["--rev", "HEAD"]) == 1  # params.yaml's 0.005: flagship lost 0.01
    output = capsys.readouterr().out
    assert "flagship: 0.9950 -> 0.9850" in output and "lenet5: 0.98" not in output.split("regressions")[-1]
    with pytest.raises(ValueError, match="Cannot read metrics/evaluation at revision 'nope'"):
        gate.main(["--rev", "nope"])
