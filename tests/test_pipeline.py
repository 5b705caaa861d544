"""End to end: real `dvc repro` / `dvc exp run` in a throwaway git repo holding a copy of the
project, on a small subset of the real MNIST (fetch only accepts the real files' checksums) and
Fashion-MNIST's test set."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import (
    MIRROR_VARIABLES,
    NEEDS_REAL_DATA,
    PROJECT_ROOT,
    REAL_DATA,
    TINY_PROFILE,
    TINY_VARIANTS,
    copy_project,
    dvc,
    experiments_in,
    run,
    stages_run,
    update_params,
)

# real MNIST and `dvc repro`
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not REAL_DATA, reason=NEEDS_REAL_DATA)]
VARIANTS = TINY_VARIANTS
PER_VARIANT = ("train", "evaluate", "scores", "export", "robustness")


def variant_stages(name: str) -> set[str]:
    """The stages one variant's params or model feed, and the report and page of them all."""
    return {f"{stage}@{name}" for stage in PER_VARIANT} | {"label_candidates", "report", "site"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The project on 400 training and 500 test images, two variants, one epoch each: reproduced
    and committed (the repository and its commit)."""
    repo = copy_project(tmp_path_factory.mktemp("project"))
    update_params(repo / "params.yaml", TINY_PROFILE)
    output = dvc(repo, "repro")
    assert stages_run(output) == {
        "fetch",
        "fetch_qmnist",
        "fetch_fashion",
        "preprocess",
        "typicality",
        "corrupt",
        "label_candidates",
        "report",
        "site",
    } | {f"{stage}@{name}" for stage in PER_VARIANT for name in VARIANTS}
    for name in VARIANTS:  # the robustness stage's figures, from the real data
        figures = json.loads((repo / f"metrics/robustness/{name}.json").read_text())
        assert set(figures["corruption_accuracy"]) == {"rotate", "shot_noise"}
        assert figures["not_a_digit"]["noise"]["flagged"] > 0.9 and figures["other_writers"]["images"] == 1797
    summary = json.loads((repo / "results/metrics.json").read_text())
    assert set(summary["ood_auroc"]) == set(summary["ece"]) == set(VARIANTS)
    # No `npm ci` in this copy (web/vendor/ as in git): the default repro still passes, and the page
    # says how to enable it.
    assert "run `npm ci`, then `dvc repro site`" in (repo / "site/index.html").read_text()
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny run"], repo)
    return repo, run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


@pytest.fixture
def repo(tiny_run: tuple[Path, str]) -> Path:
    """The tiny run's repository as committed, whatever the test before left in it (commits, params,
    outputs): each test starts from the same state, so the tests pass alone and in any order."""
    repo, commit = tiny_run
    run(["git", "reset", "-q", "--hard", commit], repo)
    run(["git", "clean", "-qfd"], repo)
    dvc(repo, "checkout", "--force")
    return repo


def test_second_repro_does_nothing_and_status_is_clean(repo: Path):
    output = dvc(repo, "repro")
    assert stages_run(output) == set()
    assert "is up to date" in output or "up to date" in output.lower()
    assert dvc(repo, "status", "--json").strip() in ("{}", "")


def test_a_grid_queued_with_dvc_s_own_syntax_runs_on_two_workers_each_with_its_own_params_and_metrics(repo: Path):
    """The README's grid: `-S key=a,b` per key queues every combination (here 2 x 2)."""
    earlier = {record["name"] for record in experiments_in(json.loads(dvc(repo, "exp", "show", "--json")))}
    dvc(repo, "exp", "run", "--queue", "-S", "model.filters=6,10", "-S", "model.dense_units=8,24")
    dvc(repo, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status")
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        time.sleep(5)
    assert "Failed" not in status, status
    baseline = json.loads((repo / "results/metrics.json").read_text())
    grid = {}
    for record in experiments_in(json.loads(dvc(repo, "exp", "show", "--json"))):
        model = record["params"]["params.yaml"]["data"]["model"]
        if record["name"] not in earlier:  # the grid's, not another test's experiments
            grid[(model["filters"], model["dense_units"])] = record["metrics"]
    assert set(grid) == {(6, 8), (6, 24), (10, 8), (10, 24)}, sorted(grid)
    validation = set()
    for metrics in grid.values():
        summary = metrics["results/metrics.json"]["data"]
        scores = {
            split: figures["flagship"] for split, figures in metrics["metrics/scores/flagship.json"]["data"].items()
        }
        # Each experiment's own run: the flagship retrained, lenet5's figures the baseline's.
        assert summary["accuracy"]["flagship"] == scores["test"]["accuracy"]
        assert summary["accuracy"]["lenet5"] == baseline["accuracy"]["lenet5"]
        assert summary["training_seconds"]["flagship"] != baseline["training_seconds"]["flagship"]
        validation.add((scores["validation"]["accuracy"], scores["validation"]["loss"]))
    assert len(validation) == 4  # four different models


def test_exp_run_flagship_filters_retrains_only_the_flagship(repo: Path):
    output = dvc(repo, "exp", "run", "-S", "model.filters=8")
    assert stages_run(output) == variant_stages("flagship")

    # dvc metrics diff: the summary and the flagship's scores, git files; only the flagship's figures
    # changed (the others' evaluations were not rerun).
    diff = json.loads(dvc(repo, "metrics", "diff", "HEAD", "--json"))
    assert set(diff) == {"results/metrics.json", "metrics/scores/flagship.json"}
    assert set(diff["metrics/scores/flagship.json"]) <= {
        f"{split}.flagship.{figure}" for split in ("validation", "test") for figure in ("accuracy", "loss")
    }
    changed = diff["results/metrics.json"]
    assert {"flag", "accuracy.flagship", "f1_macro.flagship", "training_seconds.flagship"} <= set(changed)
    assert all(key == "flag" or key.endswith(".flagship") for key in changed), changed
    flagship = {"accuracy": changed["accuracy.flagship"]}

    # dvc plots diff renders the curves and the confusion matrices of both revisions.
    plots = json.loads(dvc(repo, "plots", "diff", "HEAD", "--json"))["data"]
    assert {"Accuracy per epoch", "Loss per epoch", "plots/confusion/flagship.csv"} <= set(plots)
    assert {"plots/confusion/lenet5.png", "results/leaderboard.png", "results/per_class_f1.png"} <= set(plots)

    # The regression gate, on the paired test of the two runs' predictions (from the DVC cache): a
    # bar no p-value reaches passes the drop; a bar every discordant pair reaches fails it (no seed
    # band is measured for these tiny runs, so any significant drop counts).
    accuracy = {side: flagship["accuracy"][side] for side in ("old", "new")}
    assert accuracy["old"] != accuracy["new"]
    gate = [sys.executable, "-m", "mnist_zoo.tools.gate"]
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "filters=8"], repo)
    # Put the worse revision's results in the workspace (the summary is a git file; the per-variant
    # outputs behind it come with dvc checkout) and compare against the better revision.
    worse, better = ("HEAD~1", "HEAD") if accuracy["old"] < accuracy["new"] else ("HEAD", "HEAD~1")
    run(["git", "checkout", worse, "--", "dvc.lock", "ship/dvc.lock", "params.yaml", "results"], repo)
    dvc(repo, "checkout")
    passed = subprocess.run(
        gate + ["--rev", better, "--significance", "1e-300"], cwd=repo, capture_output=True, text=True
    )
    failed = subprocess.run(
        gate + ["--rev", better, "--significance", "0.9999"], cwd=repo, capture_output=True, text=True
    )
    run(["git", "checkout", "HEAD", "--", "dvc.lock", "ship/dvc.lock", "params.yaml", "results"], repo)
    dvc(repo, "checkout")
    assert passed.returncode == 0 and "paired test" in passed.stdout, passed.stdout + passed.stderr
    assert failed.returncode == 1 and failed.stdout.strip().endswith("flagship"), failed.stdout + failed.stderr


def test_changing_one_recipe_reruns_only_that_variant(repo: Path):
    output = dvc(repo, "exp", "run", "-S", "variants.lenet5.epochs=2")
    assert stages_run(output) == variant_stages("lenet5")


def stale_after_editing(repo: Path, path: str, function: str) -> set[str]:
    """The stages `dvc status` calls changed once `function` in `path` gains a line; then undone."""
    module = repo / path
    source = module.read_text()
    assert f"def {function}(" in source
    module.write_text(source.replace(f"def {function}(", f"# edited\ndef {function}(", 1))
    try:
        status = json.loads(dvc(repo, "status", "--json") or "{}")
    finally:
        module.write_text(source)
    return set(status)


def test_a_code_edit_makes_stale_only_the_stages_whose_outputs_it_shapes(repo: Path):
    report_only = {"report"}
    assert stale_after_editing(repo, "mnist_zoo/reporting/zoo_figures.py", "plot_leaderboard") == report_only
    assert stale_after_editing(repo, "mnist_zoo/reporting/leaderboard.py", "leaderboard_table") == report_only | {
        "site"
    }
    assert stale_after_editing(repo, "mnist_zoo/reporting/cards.py", "model_card") == report_only
    assert stale_after_editing(repo, "mnist_zoo/tools/predict.py", "table") == set()  # a CLI's printing
    assert stale_after_editing(repo, "mnist_zoo/figures.py", "save_figure") == report_only | {
        "label_candidates"  # its grids of candidates
    } | {f"evaluate@{name}" for name in VARIANTS}
    assert stale_after_editing(repo, "mnist_zoo/training/trainer.py", "fit") == {f"train@{name}" for name in VARIANTS}
    assert stale_after_editing(repo, "mnist_zoo/reporting/markdown_html.py", "markdown_html") == {"site"}
    assert dvc(repo, "status", "--json").strip() in ("{}", "")


def test_editing_evaluation_code_retrains_nothing(repo: Path):
    evaluate_module = repo / "mnist_zoo" / "evaluation" / "scoring.py"
    evaluate_module.write_text(evaluate_module.read_text() + "\n# an edit\n")
    output = dvc(repo, "repro")
    evaluation = {f"evaluate@{name}" for name in VARIANTS} | {"report"}
    # The scores if an evaluation's bytes changed (its images/s do), the page if a figure's did.
    assert (
        evaluation
        <= stages_run(output)
        <= evaluation | {f"scores@{name}" for name in VARIANTS} | {"site", "label_candidates"}
    )


def test_changing_the_split_reruns_preprocess_and_every_model_but_not_fetch(repo: Path):
    validation = (repo / "data/prepared/validation.npz").read_bytes()
    # The profile's 100 is one writer's digits (one fold per writer); 300 is several writers.
    output = dvc(repo, "exp", "run", "-S", "data.validation_size=300")
    assert (repo / "data/prepared/validation.npz").read_bytes() != validation
    # The test split is unchanged, so its corrupted copies are too: `corrupt` stays put.
    assert stages_run(output) == {"preprocess", "typicality", "label_candidates", "report", "site"} | {
        f"{stage}@{name}" for stage in PER_VARIANT for name in VARIANTS
    }


def test_a_test_label_fix_retrains_nothing_shows_in_the_diffs_and_going_back_restores_the_version(repo: Path):
    """A row of labels/corrections.csv for a test digit: preprocess and what reads the test split
    rerun, no train stage; mnist-data-diff and `dvc metrics diff` show it; the revision before it,
    checked out, gives back its splits and evaluations byte for byte. A training-label fix retrains."""
    from mnist_zoo.data.catalog import read_catalog

    before = {path: (repo / path).read_bytes() for path in ("data/prepared/test.npz", "metrics/evaluation/lenet5.json")}
    row = read_catalog(repo / "data/prepared/catalog.csv").query("split == 'test'").iloc[0]
    label = (int(row["published"]) + 1) % 10
    corrections = repo / "labels/corrections.csv"
    header = corrections.read_text()
    corrections.write_text(f"{header}{row['id']},{row['sha256']},{row['published']},{label},a test,tests\n")
    ran = stages_run(dvc(repo, "repro"))
    assert "preprocess" in ran and {f"evaluate@{name}" for name in VARIANTS} <= ran
    assert not any(stage.startswith("train@") for stage in ran), ran
    evaluation = json.loads((repo / "metrics/evaluation/lenet5.json").read_text())
    assert evaluation["slices"]["published_labels"]["relabelled"] == 1
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "relabel a test digit"], repo)

    diff = run([sys.executable, "-m", "mnist_zoo.tools.data_diff", "HEAD~1", "HEAD"], repo).stdout
    assert f"| `{row['id']}` | relabelled | test → test | {row['published']} → {label} |" in diff, diff
    assert re.search(r"\| lenet5 \| \d+ \| \d+ \| \d+ \| \d+ \|", diff), diff  # its answer on that digit
    metrics = json.loads(dvc(repo, "metrics", "diff", "HEAD~1", "--all", "--json"))
    relabelled = metrics["results/data.json"]["corrections.relabelled.test"]  # the committed rows, then ours
    assert relabelled["diff"] == 1 and relabelled["new"] == relabelled["old"] + 1, relabelled
    summary = metrics["results/metrics.json"]
    assert {"employees_accuracy.lenet5", "students_accuracy.lenet5", "accuracy.lenet5"} <= summary.keys()
    # The same model's same answers: against MNIST's own labels nothing moved.
    assert summary["published_accuracy.lenet5"]["old"] == summary["published_accuracy.lenet5"]["new"]

    run(["git", "checkout", "-q", "HEAD~1"], repo)
    dvc(repo, "checkout", "--force")
    assert {path: (repo / path).read_bytes() for path in before} == before
    run(["git", "checkout", "-q", "main"], repo)
    dvc(repo, "checkout", "--force")

    # A training digit's fix: the models train on other labels.
    row = read_catalog(repo / "data/prepared/catalog.csv").query("split == 'train'").iloc[0]
    corrections.write_text(
        corrections.read_text() + f"{row['id']},{row['sha256']},{row['published']},exclude,a test,tests\n"
    )
    dvc(repo, "repro", "preprocess")
    assert {f"train@{name}" for name in VARIANTS} <= set(json.loads(dvc(repo, "status", "--json")))


def test_your_digits_added_with_dvc_add_are_a_slice_that_retrains_nothing_until_params_say_train(repo: Path):
    """A writer's folder in digits/, `dvc add`ed: preprocess, every evaluation and the report rerun,
    no train stage; each evaluation reads the slice, mnist-data-diff lists the digits added with each
    model's answers on them. `data.own_digits: train` then makes every model stale."""
    from tests.test_own_digits import draw_digit

    for number in range(12):
        draw_digit(repo / "digits" / "tester" / str(number % 10) / f"{number}.png", number % 10, (90 + 5 * number, 120))
    dvc(repo, "add", "digits/tester")
    ran = stages_run(dvc(repo, "repro"))
    assert {"preprocess", "report"} | {f"evaluate@{name}" for name in VARIANTS} <= ran
    assert not any(stage.startswith("train@") for stage in ran), ran
    for name in VARIANTS:
        own = json.loads((repo / f"metrics/evaluation/{name}.json").read_text())["slices"]["own"]
        assert own["images"] == 12 and own["per_writer"]["tester"][0] == 12
    summary = json.loads((repo / "results/metrics.json").read_text())
    assert set(summary["own_accuracy"]) == set(VARIANTS)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "a tester's digits"], repo)
    assert (repo / "digits/tester.dvc").is_file() and "/tester" in (repo / "digits/.gitignore").read_text()

    diff = run([sys.executable, "-m", "mnist_zoo.tools.data_diff", "HEAD~1", "HEAD"], repo).stdout
    assert "| added | own | 12 |" in diff and "| `own:tester/0/0.png` | added | - → own | - → 0 |" in diff, diff
    for name in VARIANTS:
        right = round(summary["own_accuracy"][name] * 12)
        assert f"| {name} | {right} of 12 |" in diff, diff

    update_params(repo / "params.yaml", {"data.own_digits": "train"})
    dvc(repo, "repro", "preprocess")
    assert {f"train@{name}" for name in VARIANTS} <= set(json.loads(dvc(repo, "status", "--json")))


def test_vgg16_transfer_is_opt_in_and_runs_only_its_own_stages(repo: Path, tmp_path: Path):
    import keras

    weights = tmp_path / "vgg16_notop.weights.h5"  # a local file, as offline users provide
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(48, 48, 3)).save_weights(weights)
    update_params(
        repo / "params.yaml",
        {"train.transfer_variants": {"vgg16_transfer": "variants.vgg16_transfer"}, "variants.vgg16_transfer.epochs": 1},
    )
    output = dvc(repo, "repro", VGG16_WEIGHTS=str(weights))
    assert stages_run(output) == {
        "features@vgg16_transfer",
        "train_transfer@vgg16_transfer",
        "evaluate_transfer@vgg16_transfer",
        "scores_transfer@vgg16_transfer",
        "label_candidates",  # its probabilities joined the directory the candidates read
        "report",
        "site",  # the summary it reads changed: it now lists vgg16_transfer
    }
    assert "| vgg16_transfer |" in (repo / "results/leaderboard.md").read_text()
    # Changing only the head reuses the cached features.
    update_params(repo / "params.yaml", {"variants.vgg16_transfer.epochs": 2})
    output = dvc(repo, "repro", VGG16_WEIGHTS=str(weights))
    assert stages_run(output) == {
        "train_transfer@vgg16_transfer",
        "evaluate_transfer@vgg16_transfer",
        "scores_transfer@vgg16_transfer",
        "label_candidates",  # its probabilities joined the directory the candidates read
        "report",
        "site",
    }


def test_same_params_and_data_give_the_same_metrics(repo: Path):
    before = (repo / "metrics/evaluation/lenet5.json").read_text()
    dvc(repo, "repro", "--force", "--single-item", "train@lenet5", "evaluate@lenet5")
    after = json.loads((repo / "metrics/evaluation/lenet5.json").read_text())
    before = json.loads(before)
    for timing in ("images_per_second", "training_seconds"):
        del before[timing], after[timing]
    assert after == before
    # The new timings reach the report (and the scores' stage, whose input's bytes changed while its
    # scores did not); the model file (its save date) is new, so it re-exports (and evaluate@lenet5 and
    # robustness@lenet5, which judge the export, rerun if its bytes changed with it).
    assert (
        {"report", "export@lenet5"}
        <= stages_run(dvc(repo, "repro"))
        <= {
            "report",
            "scores@lenet5",
            "export@lenet5",
            "evaluate@lenet5",
            "robustness@lenet5",
            "site",
            "label_candidates",
        }
    )


def test_without_a_remote_the_workflow_compares_the_pull_request_profile(repo: Path):
    """The workflow's own script with no DVC remote: both sides on the profile, every stage run here;
    the comment gives every variant its paired test and its seed band on that profile."""
    script = PROJECT_ROOT / ".github/scripts/quick_profile.sh"
    environment = dict(
        os.environ,
        QUICK_PROFILE="-S model.dense_units=10",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **{variable: str(Path(os.environ[variable]).resolve()) for variable in MIRROR_VARIABLES},
    )
    run(["git", "reset", "-q", "--hard"], repo)  # the base is the committed state, not an earlier test's experiment
    base = run(["bash", str(script), "base"], repo, env=environment).stdout
    assert "no DVC remote configured" in base and "profile=pull_request" in base
    assert stages_run(base) == variant_stages("flagship")
    # 3 epochs: a run no earlier test made (the run-cache would restore it)
    update_params(repo / "params.yaml", {"variants.lenet5.epochs": 3})
    run(["git", "commit", "-qam", "pull request: lenet5 for 3 epochs"], repo)
    head = run(["bash", str(script), "head"], repo, env=environment).stdout
    assert stages_run(head) == variant_stages("lenet5")  # the flagship's profile run was the base's
    # Seed bands measured on this profile (as bench/seed_spread.py --write-band records them).
    from mnist_zoo.experiments import comparison
    from mnist_zoo.params import load_params, variant_spec

    params = load_params(repo / "params.yaml")
    bands = {
        "pull_request": {
            name: comparison.seed_band(
                [0.5, 0.52, 0.54], comparison.recipe_fingerprint(params, variant_spec(params, name)), [42, 43, 44]
            )
            for name in VARIANTS
        }
    }
    (repo / "results/seed_bands.json").write_text(json.dumps(bands))
    comment = run(
        [
            sys.executable,
            "-m",
            "mnist_zoo.tools.pr_comment",
            "--base",
            "quick-base",
            "--head",
            "quick-head",
            "--profile",
            "pull_request",
        ],
        repo,
        env=environment,
    ).stdout
    assert "Compared: the pull-request profile" in comment
    assert "### Data\n\nNo data change: `quick-base` and `quick-head` hold the same 70,000 examples." in comment
    for name in VARIANTS:
        row = next(line for line in comment.splitlines() if line.startswith(f"| {name} |"))
        assert ", p = " in row and "±2 sd (2.00 pp over 3 seeds)" in row, row
