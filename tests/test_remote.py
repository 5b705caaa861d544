"""What the pipeline makes leaves the clone that made it: a team shares data, models, metrics,
experiments and the run-cache through a real S3 endpoint (moto's server on 127.0.0.1), with a
bare git repository as `origin`, on the tiny real-MNIST profile."""

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mnist_zoo.reporting import leaderboard
from tests.conftest import (
    MIRROR_VARIABLES,
    NEEDS_REAL_DATA,
    PROJECT_ROOT,
    REAL_DATA,
    TINY_PROFILE,
    copy_project,
    dvc,
    dvc_result,
    experiments_in,
    lock_stages,
    readme_compare_command,
    run,
    stages_run,
    update_params,
)
from tests.loopback_s3 import BUCKET, S3Server, s3_server

# real MNIST, `dvc repro` and an S3 server
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not REAL_DATA, reason=NEEDS_REAL_DATA)]


def variant_stages(name: str) -> set[str]:
    """What a change to one variant's params runs: its own stages, the report and the page."""
    return {f"{stage}@{name}" for stage in ("train", "evaluate", "scores", "export", "robustness")} | {
        "label_candidates",
        "report",
        "site",
    }


# The README's compact comparison: one row per experiment, each variant's test error under its
# short label (the first keys of results/metrics.json) and only the params that differ.
def compare_command(variants: list[str]) -> list[str]:
    """The README's `dvc exp show` form (dropping every summary figure), its --keep narrowed to these
    variants' labels (tests/test_layout.py checks the README spells it with train.variants)."""
    labels = leaderboard.short_labels(
        variants, yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["report"]["short_names"]
    )
    command = readme_compare_command()[1:]  # without `dvc`
    command[command.index("--keep") + 1] = f"^({'|'.join(labels.values())})$"
    return [command[0], command[1], "--no-pager", *command[2:]]


EXPERIMENTS = {"filters-8": "model.filters=8", "lenet5-2-epochs": "variants.lenet5.epochs=2"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        yield server


class Team:
    """origin (bare git), the S3 remote, and clone A, which ran and pushed the pipeline."""

    def __init__(self, root: Path, s3: S3Server) -> None:
        self.root, self.s3 = root, s3
        self.origin = root / "origin.git"
        self.url = f"s3://{BUCKET}/{root.name}"
        # Bounded retries: a dead endpoint fails a command in seconds, not minutes.
        self.environment = {**s3.environment(), "AWS_MAX_ATTEMPTS": "2"}
        self.a = root / "a"  # made by the `team` fixture

    def dvc(self, repo: Path, *arguments: str, **extra: str) -> str:
        return dvc(repo, *arguments, **{**self.environment, **extra})

    def dvc_result(self, repo: Path, *arguments: str, **extra: str) -> subprocess.CompletedProcess:
        return dvc_result(repo, *arguments, **{**self.environment, **extra})

    def clone(self, name: str) -> Path:
        """A teammate's fresh clone: its own work tree and empty DVC cache; the endpoint goes in
        .dvc/config.local (never committed), credentials come from the environment."""
        clone = self.root / name
        run(["git", "clone", "-q", str(self.origin), str(clone)], self.root)
        run(["git", "config", "user.email", f"{name}@example.com"], clone)
        run(["git", "config", "user.name", name], clone)
        self.dvc(clone, "remote", "modify", "--local", "storage", "endpointurl", self.s3.endpoint)
        return clone


def commit_and_push(repo: Path, message: str, team: Team) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)
    run(["git", "push", "-q", "origin", "HEAD"], repo)
    team.dvc(repo, "push", "--run-cache")


@pytest.fixture(scope="module")
def team(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Team:
    team = Team(tmp_path_factory.mktemp("team"), s3)
    run(["git", "init", "-q", "--bare", "-b", "main", str(team.origin)], team.root)
    a = copy_project(team.a)
    update_params(a / "params.yaml", TINY_PROFILE)
    team.dvc(a, "remote", "add", "-d", "storage", team.url)
    team.dvc(a, "remote", "modify", "--local", "storage", "endpointurl", s3.endpoint)
    run(["git", "remote", "add", "origin", str(team.origin)], a)
    team.dvc(a, "repro")
    commit_and_push(a, "tiny run", team)
    update_params(a / "params.yaml", {"model.dense_units": 12})
    assert stages_run(team.dvc(a, "repro")) == variant_stages("flagship")
    commit_and_push(a, "flagship: 12 dense units", team)
    return team


def lock_hash(repo: Path, stage: str, path: str) -> str:
    lock = lock_stages(repo)[stage]
    return next(out["md5"] for out in lock["outs"] if out["path"] == path)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_fresh_clone_pulls_everything_and_has_nothing_to_run(team: Team):
    tracked = run(["git", "ls-files"], team.a).stdout.split()
    assert "results/metrics.json" in tracked and "metrics/evaluation/flagship.json" not in tracked  # git's, DVC's
    b = team.clone("b")
    team.dvc(b, "pull")
    for path, stage in (
        ("data/models/flagship.keras", "train@flagship"),
        ("data/export/lenet5.onnx", "export@lenet5"),
        ("metrics/evaluation/flagship.json", "evaluate@flagship"),
    ):
        assert md5(b / path) == md5(team.a / path) == lock_hash(b, stage, path)
    assert team.dvc(b, "status", "--json").strip() in ("{}", "")
    assert stages_run(team.dvc(b, "repro")) == set()

    # Both pushed commits compare with no training: the summaries are git files; the per-variant
    # plots behind them come from the remote.
    diff = json.loads(team.dvc(b, "metrics", "diff", "HEAD~1", "HEAD", "--json"))["results/metrics.json"]
    assert set(diff["training_seconds.flagship"]) == {"old", "new", "diff"}
    assert not [key for key in diff if "lenet5" in key or key == "lnt5"], diff
    plots = json.loads(team.dvc(b, "plots", "diff", "HEAD~1", "HEAD", "--json"))["data"]
    confusion = plots["plots/confusion/flagship.csv"]
    revisions = {revision for plot in confusion for revision in plot.get("revisions", [])}
    assert {"HEAD~1", "HEAD"} <= revisions, revisions


@pytest.fixture(scope="module")
def pushed_experiments(team: Team) -> dict[str, dict]:
    """A runs two experiments and pushes them (git refs, their outputs and run-cache) to origin. In
    temporary directories (`--temp`): A's workspace stays at its commit for the tests that compare
    with it, whichever runs first."""
    for name, setting in EXPERIMENTS.items():
        team.dvc(team.a, "exp", "run", "--temp", "-n", name, "-S", setting)
    team.dvc(team.a, "exp", "push", "--run-cache", "origin", *EXPERIMENTS)
    records = experiments_in(json.loads(team.dvc(team.a, "exp", "show", "--json")))
    return {record["name"]: record for record in records if record["name"] in EXPERIMENTS}


def test_experiments_travel_between_machines(team: Team, pushed_experiments: dict[str, dict]):
    c = team.clone("c")
    team.dvc(c, "exp", "pull", "origin", *EXPERIMENTS)
    shown = {record["name"]: record for record in experiments_in(json.loads(team.dvc(c, "exp", "show", "--json")))}
    assert set(EXPERIMENTS) <= set(shown)
    assert shown["filters-8"]["params"]["params.yaml"]["data"]["model"]["filters"] == 8
    assert shown["lenet5-2-epochs"]["params"]["params.yaml"]["data"]["variants"]["lenet5"]["epochs"] == 2
    for name in EXPERIMENTS:
        assert shown[name]["metrics"] == pushed_experiments[name]["metrics"]

    team.dvc(c, "exp", "apply", "filters-8")
    output = team.dvc(c, "pull") + team.dvc(c, "repro")
    assert stages_run(output) == set()
    assert md5(c / "data/models/flagship.keras") == lock_hash(c, "train@flagship", "data/models/flagship.keras")
    accuracy = json.loads((c / "results/metrics.json").read_text())["accuracy"]["flagship"]
    assert (
        accuracy == pushed_experiments["filters-8"]["metrics"]["results/metrics.json"]["data"]["accuracy"]["flagship"]
    )


def test_compact_exp_show_fits_a_120_column_terminal(team: Team, pushed_experiments: dict[str, dict]):
    table = team.dvc(team.a, *compare_command(["lenet5", "flagship"]), COLUMNS="120")
    lines = table.splitlines()
    assert "…" not in table and max(map(len, lines)) <= 120, table
    header = next(line for line in lines if "Experiment" in line)
    assert header.split()[1:] == ["lnt5", "flag", "model.filters", "variants.lenet5.epochs"], table
    for name, record in pushed_experiments.items():
        row = next(line for line in lines if f"[{name}]" in line)
        summary = record["metrics"]["results/metrics.json"]["data"]
        accuracies, errors = summary["accuracy"], {label: summary[label] for label in ("lnt5", "flag")}
        assert errors == {
            "lnt5": round(100 * (1 - accuracies["lenet5"]), 2),
            "flag": round(100 * (1 - accuracies["flagship"]), 2),
        }
        assert row.split()[-4:-2] == [f"{errors['lnt5']:.3g}", f"{errors['flag']:.3g}"], table


def test_run_cache_restores_every_stage_in_another_clone(team: Team, pushed_experiments: dict[str, dict]):
    """D sets exactly the params of A's experiment (no exp pull, no lock for them) and gets every
    train, evaluate and export stage from the remote's run-cache: nothing trains, and only the
    flagship's scores, the label candidates and the report (their outputs git files, which no remote
    holds) rerun, in seconds."""
    d = team.clone("d")
    update_params(d / "params.yaml", {"model.filters": 8})
    output = team.dvc(d, "repro", "--pull")
    assert stages_run(output) == {"scores@flagship", "label_candidates", "report"}, output
    assert "Stage 'train@flagship' is cached - skipping run" in output
    summary = json.loads((d / "results/metrics.json").read_text())
    # DVC leaves a figure no model has (an empty mapping: "Your writers" with no digits/) out of
    # what it reads; the file keeps it.
    assert {key: value for key, value in summary.items() if value != {}} == (
        pushed_experiments["filters-8"]["metrics"]["results/metrics.json"]["data"]
    )
    assert team.dvc(d, "status", "--json").strip() in ("{}", "")


def get_artifact(team: Team, name: str, target: Path) -> Path:
    """`dvc artifacts get` of version v1.0.0 of `name` from the team's origin, into `target`."""
    team.dvc(
        target.parent,
        "artifacts",
        "get",
        str(team.origin),
        name,
        "--rev",
        "v1.0.0",
        "-o",
        str(target),
        "--remote-config",
        f"endpointurl={team.s3.endpoint}",
    )
    return target


def test_artifacts_get_fetches_a_registered_model(team: Team, tmp_path: Path):
    declared = yaml.safe_load((team.a / "dvc.yaml").read_text())["artifacts"]
    assert declared["flagship"] == {**declared["flagship"], "path": "data/models/flagship.keras", "type": "model"}
    # A registers the flagship and its export as versions (GTO tags, what model registries read).
    for name in ("flagship", "flagship-onnx"):
        run(["git", "tag", "-a", f"{name}@v1.0.0", "HEAD", "-m", f"Registering artifact {name} version v1.0.0"], team.a)
        run(["git", "push", "-q", "origin", f"{name}@v1.0.0"], team.a)
    registered = lock_stages(team.a, rev="flagship@v1.0.0")
    for name, stage, path in (
        ("flagship", "train@flagship", "data/models/flagship.keras"),
        ("flagship-onnx", "export@flagship", "data/export/flagship.onnx"),
    ):
        target = get_artifact(team, name, tmp_path / Path(path).name)
        assert md5(target) == next(out["md5"] for out in registered[stage]["outs"] if out["path"] == path)
    # The prepared data as a named version, fetched the same way (a directory: its files, byte for byte).
    run(
        ["git", "tag", "-a", "mnist-prepared@v1.0.0", "HEAD", "-m", "Registering dataset mnist-prepared v1.0.0"], team.a
    )
    run(["git", "push", "-q", "origin", "mnist-prepared@v1.0.0"], team.a)
    target = get_artifact(team, "mnist-prepared", tmp_path / "prepared")
    prepared = team.a / "data/prepared"
    assert sorted(path.name for path in target.iterdir()) == sorted(path.name for path in prepared.iterdir())
    assert all((target / path.name).read_bytes() == path.read_bytes() for path in prepared.iterdir())


def snapshot(repo: Path) -> dict[str, str]:
    """Every file of the work tree and the DVC cache (outside .git) and its content hash."""
    return {
        str(path.relative_to(repo)): md5(path)
        for path in sorted(repo.rglob("*"))
        if path.is_file()
        and ".git" not in path.relative_to(repo).parts[:1]
        and "tmp" not in path.relative_to(repo).parts[:2]
    }


def assert_cache_objects_whole(repo: Path) -> None:
    """Every object in the local cache holds exactly the content its name (its md5) promises."""
    for path in (repo / ".dvc/cache/files/md5").rglob("*"):
        if path.is_file() and not path.name.endswith(".unpacked"):
            name = path.parent.name + path.name
            assert md5(path) == name.removesuffix(".dir"), f"half-written cache object {path}"


def test_push_cut_part_way_fails_cleanly_and_succeeds_when_the_server_is_back(team: Team):
    # In A's local config only (url and endpoint together): A's committed .dvc/config stays as it is,
    # so reading a commit (`dvc exp show`'s baseline) never meets half a remote.
    team.dvc(team.a, "remote", "add", "--local", "cut", f"s3://{BUCKET}/{team.root.name}-cut")
    team.dvc(team.a, "remote", "modify", "--local", "cut", "endpointurl", team.s3.endpoint)
    before = snapshot(team.a)
    team.s3.relay.cut_after_bytes = 3_000_000  # data/raw alone is ~11 MB
    try:
        failed = team.dvc_result(team.a, "push", "-r", "cut")
    finally:
        team.s3.relay.cut_after_bytes = None
        if not team.s3.relay.running:
            team.s3.relay.start()
    assert failed.returncode != 0 and "ERROR" in failed.stderr + failed.stdout, failed
    assert snapshot(team.a) == before
    team.dvc(team.a, "push", "-r", "cut")
    assert "in sync" in team.dvc(team.a, "status", "--cloud", "-r", "cut")


def test_pull_cut_part_way_leaves_nothing_half_written(team: Team):
    e = team.clone("e")
    team.s3.relay.cut_after_bytes = 3_000_000
    try:
        failed = team.dvc_result(e, "pull")
    finally:
        team.s3.relay.cut_after_bytes = None
        if not team.s3.relay.running:
            team.s3.relay.start()
    assert failed.returncode != 0 and "ERROR" in failed.stderr + failed.stdout, failed
    assert_cache_objects_whole(e)
    lock = lock_stages(e)
    for stage in lock.values():
        for out in stage.get("outs", []):
            path = e / out["path"]
            if path.is_file():  # a file output is either absent or whole
                assert md5(path) == out["md5"], f"{path} is half-written"
    team.dvc(e, "pull")
    assert team.dvc(e, "status", "--json").strip() in ("{}", "")


def test_wrong_credentials_get_a_clear_error_and_change_nothing(team: Team):
    f = team.clone("f")
    before, objects = {repo: snapshot(repo) for repo in (f, team.a)}, team.s3.object_count()
    for repo, command in ((f, "pull"), (team.a, "push")):
        failed = team.dvc_result(repo, command, AWS_SECRET_ACCESS_KEY="not-the-secret")
        message = failed.stderr + failed.stdout
        assert failed.returncode != 0, message
        assert "ERROR" in message and any(
            word in message
            for word in ("SignatureDoesNotMatch", "Forbidden", "InvalidAccessKeyId", "403", "credentials")
        ), message
    assert {repo: snapshot(repo) for repo in (f, team.a)} == before and team.s3.object_count() == objects


def test_pull_request_workflow_restores_the_base_instead_of_retraining(team: Team):
    """The workflow's own script, with the team's remote as the repository secret: full runs, the base
    side restored on a fresh runner (nothing runs: the models come from the run-cache, the summary
    is in git), the pull request training only the variant it changed; then the comment and the
    gate, with the paired test of every variant on the same test images."""
    script = Path(__file__).resolve().parents[1] / ".github/scripts/quick_profile.sh"
    environment = {
        **os.environ,
        **team.environment,
        "DVC_REMOTE_URL": team.url,
        "DVC_REMOTE_ENDPOINT_URL": team.s3.endpoint,
        **{variable: str(Path(os.environ[variable]).resolve()) for variable in MIRROR_VARIABLES},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    clone = team.clone("runner")
    base = run(["bash", str(script), "base"], clone, env=environment).stdout
    assert "DVC remote 'ci'" in base and "profile=full" in base
    assert stages_run(base) == set(), base  # every model from the run-cache: main's pushed run
    assert run(["git", "rev-parse", "quick-base"], clone).stdout == run(["git", "rev-parse", "HEAD"], clone).stdout

    update_params(clone / "params.yaml", {"variants.lenet5.epochs": 3})  # a run nobody has pushed
    run(["git", "commit", "-qam", "pull request: lenet5 for 3 epochs"], clone)
    head = run(["bash", str(script), "head"], clone, env=environment).stdout
    assert stages_run(head) == variant_stages("lenet5")
    comment = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_zoo.tools.pr_comment",
            "--base",
            "quick-base",
            "--head",
            "quick-head",
            "--profile",
            "full",
            "--base-name",
            "main",
        ],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Compared: full runs of every recipe" in comment
    committed = json.loads((PROJECT_ROOT / "results/seed_bands.json").read_text()).get("full", {})
    for name in ("lenet5", "flagship"):
        row = next(line for line in comment.splitlines() if line.startswith(f"| {name} |"))
        # Paired; the full recipe's committed band does not fit these tiny recipes: it is stale.
        band = "stale: the recipe changed" if name in committed else "not measured"
        assert ", p = " in row and band in row, row
    assert "| flagship | " in comment and "(+0.00 pp) | 0 / 0, p = 1 |" in comment  # untouched: the same answers
    gate = subprocess.run(
        [sys.executable, "-m", "mnist_zoo.tools.gate", "--rev", "quick-base", "--head", "quick-head"],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert gate.returncode == 0, gate.stdout + gate.stderr  # three epochs instead of one: no regression
