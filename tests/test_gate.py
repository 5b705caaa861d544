"""The regression gate against a git revision: the summary from git, each model's test-set
predictions from the DVC cache, the seed bands from results/seed_bands.json."""

import subprocess
import sys
from pathlib import Path

import pytest

from mnist_zoo.tools import gate
from tests.conftest import write_side


def test_the_same_predictions_pass(paired_runs: Path, capsys: pytest.CaptureFixture):
    assert gate.main(["--rev", "HEAD"]) == 0
    output = capsys.readouterr().out
    assert "flagship: 99.00% -> 99.00% (+0.00 pp); paired test 0 / 0, p = 1" in output and "REGRESSION" not in output


def test_a_significant_drop_outside_the_band_fails_and_names_the_variant(paired_runs: Path, capsys):
    write_side({"lenet5": 100, "flagship": 200})  # the flagship loses a point on 100 more images
    assert gate.main(["--rev", "HEAD"]) == 1
    output = capsys.readouterr().out
    assert "flagship: 99.00% -> 98.00% (-1.00 pp); paired test 100 / 0, p = 1.58e-30; seed band outside" in output
    assert "lenet5: 99.00% -> 99.00%" in output and output.strip().endswith("): flagship")


def test_a_drop_inside_the_band_passes(paired_runs: Path, capsys):
    write_side({"lenet5": 103, "flagship": 100})  # 0.03 pp: significant? no, and inside ±2 sd of 0.05 pp
    assert gate.main(["--rev", "HEAD"]) == 0


def test_a_revision_without_a_summary_is_a_clear_error(paired_runs: Path):
    with pytest.raises(ValueError, match="Cannot read the test accuracies in results/metrics.json at revision 'nope'"):
        gate.main(["--rev", "nope"])


@pytest.mark.parametrize("value", ["0", "1.5"])
def test_a_significance_override_outside_zero_to_one_is_refused(in_tmp_project: Path, value: str, capsys):
    with pytest.raises(SystemExit) as stopped:
        gate.main(["--rev", "HEAD", "--significance", value])
    assert (
        stopped.value.code == 2 and f"--significance is {float(value):g}; give a p-value bar" in capsys.readouterr().err
    )


def test_the_console_script_runs_the_gate(paired_runs: Path):
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mnist-gate")), "--rev", "HEAD"],
        cwd=paired_runs,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "No regression against HEAD (2 variants compared" in result.stdout, result.stderr
