"""The tree, dvc.yaml, params.yaml, README and CI agree with each other."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from mnist_zoo.reporting import leaderboard
from tests.code_deps import PIPELINE_FILES, stage_bodies
from tests.conftest import PROJECT_ROOT, readme_compare_command

README = (PROJECT_ROOT / "README.md").read_text()
DVC_YAML = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def readme_commands() -> list[str]:
    """The shell blocks on the README's first screen, before the first horizontal rule."""
    first_screen = README.split("\n---\n")[0]
    return re.findall(r"```bash\n(.*?)\n```", first_screen, flags=re.S)


def layout_entries() -> dict[str, str]:
    """The README's layout block: each top-level name (or comma-separated names) and its text."""
    block = re.search(r"## Layout\n\n```\n(.*?)\n```", README, flags=re.S).group(1)
    entries: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line and not line.startswith(" "):
            name, *text = re.split(r"\s{2,}", line, maxsplit=1)
            entries[name] = " ".join(text)
        else:
            entries[name] += " " + line.strip()
    return entries


def test_the_readme_layout_names_every_top_level_entry_and_every_module():
    entries = layout_entries()
    named = {part.strip().rstrip("/") for key in entries for part in key.split(",") if part.strip()}
    for name in named:
        assert (PROJECT_ROOT / name).exists(), f"README's layout names {name}, which does not exist"
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.split()
    top_level = {path.split("/")[0] for path in tracked if "/" in path} - {".dvc"}
    top_level |= {path for path in tracked if "/" not in path and path.endswith((".yaml", ".txt", ".toml"))}
    top_level |= {"data", "metrics", "plots"}  # DVC outputs: not in git, still part of the story
    top_level = {name for name in top_level if name != ".ci"} | {".ci/run"}
    assert top_level <= named, f"README's layout misses {sorted(top_level - named)}"
    # Each stage, each room of the package and each module in it is named in its entry, so the map
    # stays true as files come and go.
    stages = {path.stem for path in (PROJECT_ROOT / "stages").glob("*.py")} - {"__init__"}
    missing = {module for module in stages if not re.search(rf"\b{module}\b", entries["stages/"])}
    assert not missing, f"README's layout entry for stages/ misses {sorted(missing)}"
    package = PROJECT_ROOT / "mnist_zoo"
    named = [path.relative_to(package) for path in package.rglob("*.py") if path.stem != "__init__"]
    for room in {path.parts[0] for path in named if len(path.parts) > 1}:
        assert f"{room}/ (" in entries["mnist_zoo/"], f"README's layout entry for mnist_zoo/ misses the room {room}/"
        in_room = entries["mnist_zoo/"].split(f"{room}/ (")[1].split(")")[0]
        missing = {path.stem for path in named if path.parts[0] == room and not re.search(rf"\b{path.stem}\b", in_room)}
        assert not missing, f"README's layout names {room}/ without {sorted(missing)}"
    roots = {path.stem for path in named if len(path.parts) == 1}
    missing = {module for module in roots if not re.search(rf"\b{module}\.py\b", entries["mnist_zoo/"])}
    assert not missing, f"README's layout entry for mnist_zoo/ misses {sorted(missing)}"


def test_the_readme_is_a_front_door_that_links_every_docs_page():
    assert len(README.splitlines()) <= 250
    linked = set(re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README))
    for target in linked - {link for link in linked if "://" in link}:
        assert (PROJECT_ROOT / target).exists(), f"README links {target}, which does not exist"
    pages = {path.relative_to(PROJECT_ROOT).as_posix() for path in (PROJECT_ROOT / "docs").glob("*.md")}
    assert pages and pages <= linked, f"README does not link {sorted(pages - linked)}"
    for page in [*pages, "bench/README.md"]:
        text = (PROJECT_ROOT / page).read_text()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target:
                assert ((PROJECT_ROOT / page).parent / target).exists(), f"{page} links {target}, which does not exist"


def test_readme_first_screen_sets_up_on_a_cpu_or_a_gpu_and_ci_runs_the_test_command():
    setup, gpu_setup, tests = readme_commands()
    assert "python3 -m venv .venv" in setup and "pip install -r requirements.txt" in setup
    assert setup.endswith("dvc repro")
    # The GPU form: the same with the CUDA builds, and it refuses to fall back to the CPU.
    assert gpu_setup == setup.replace("requirements.txt", "requirements-gpu.txt").replace(
        "dvc repro", "MNIST_REQUIRE_ACCELERATOR=1 dvc repro"
    )
    test_command = tests.split("&&")[-1].strip()
    ci_script = (PROJECT_ROOT / ".ci/run").read_text()
    assert test_command in ci_script.split("# The README's test command:")[1]
    assert "MNIST_MIRROR=" in README.split("\n---\n")[0]


def pins(path: Path, follow_includes: bool = True) -> dict[str, str]:
    """name -> version of every `name==version` line (extras dropped), and of the files it `-r`
    includes unless told not to."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r ") and follow_includes:
            found |= pins(path.parent / line[3:].strip())
        elif "==" in line:
            name, version = line.split("==")
            found[re.sub(r"\[.*\]", "", name).strip().lower()] = version.strip()
    return found


def test_gpu_requirements_are_the_cpu_pins_with_the_cuda_builds():
    gpu_file = PROJECT_ROOT / "requirements-gpu.txt"
    cpu, own, gpu_lines = (
        pins(PROJECT_ROOT / "requirements.txt"),
        pins(gpu_file, follow_includes=False),
        gpu_file.read_text(),
    )
    assert "-r requirements.txt" in gpu_lines  # everything else is the CPU install's, unchanged
    # The CUDA builds of the very versions the CPU install pins, CUDA 12 throughout.
    assert own["tensorflow"] == cpu["tensorflow"] and "tensorflow[and-cuda]==" in gpu_lines
    assert own["jax"] == cpu["jax"] == cpu["jaxlib"] and "jax[cuda12]==" in gpu_lines
    assert own["jax-cuda12-plugin"] == own["jax-cuda12-pjrt"] == cpu["jax"]
    cuda_libraries = set(own) - {"tensorflow", "jax", "jax-cuda12-plugin", "jax-cuda12-pjrt"}
    assert cuda_libraries and all(name.startswith("nvidia-") and name.endswith("-cu12") for name in cuda_libraries)
    assert not cuda_libraries & set(cpu)  # nothing of the CPU install pinned twice


def test_every_variant_maps_to_a_params_section_and_is_documented():
    catalogue = {**PARAMS["train"]["variants"], **(PARAMS["train"]["transfer_variants"] or {})}
    for name, section in catalogue.items():
        node = PARAMS
        for key in section.split("."):
            node = node[key]
        assert "family" in node, name
    for name in set(PARAMS["variants"]) | set(PARAMS["train"]["variants"]):
        assert f"| `{name}` |" in README, f"README's variant table misses {name}"


def test_every_stage_of_every_pipeline_file_runs_at_the_project_root():
    """ship/dvc.yaml's stages run where the root's do (their commands, paths and params.yaml are the
    project root's), and no stage name is in both files (`dvc repro <name>` finds the root's)."""
    names = []
    for pipeline in PIPELINE_FILES:
        document = yaml.safe_load((PROJECT_ROOT / pipeline).read_text())
        root = Path(pipeline).parent.as_posix()
        back = os.path.relpath(".", root)
        if root != ".":
            assert document["vars"] == [f"{back}/params.yaml"], pipeline
        for name, stage in document["stages"].items():
            body = stage.get("do", stage)
            assert body.get("wdir", ".") == back, f"{pipeline}: {name} runs in {body.get('wdir', '.')}"
            names.append(name)
    assert len(names) == len(set(names))


def test_every_stage_that_builds_a_variants_model_starts_keras_on_that_variants_backend():
    """A variant's `backend:` param is honoured wherever its network is built or trained (two stages
    once started the default backend whatever the param said): each such stage's `__main__` block
    starts the runtime with variant_backend of the variant it was given."""
    import ast

    builds = {"train", "train_transfer", "features", "train_candidates"}
    for name in builds:
        tree = ast.parse((PROJECT_ROOT / "stages" / f"{name}.py").read_text())
        main = next(node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
        starts = [
            node for node in ast.walk(main) if isinstance(node, ast.Call) and ast.unparse(node.func) == "runtime.start"
        ]
        assert len(starts) == 1 and "variant_backend(" in ast.unparse(starts[0]), (
            f"stages/{name}.py: {ast.unparse(main)}"
        )


def test_data_and_models_are_never_git_files():
    ignored = (PROJECT_ROOT / "data/.gitignore").read_text().split()
    assert {"/raw", "/prepared"} <= set(ignored)
    for body in stage_bodies(PROJECT_ROOT).values():
        for out in body.get("outs", []):
            path = out if isinstance(out, str) else next(iter(out))
            if path.startswith("data/"):
                assert isinstance(out, str) or out[path].get("cache", True), path


def outputs(body: dict) -> dict[str, tuple[str, dict]]:
    """A stage's outputs: path -> (kind, settings)."""
    found = {}
    for kind in ("outs", "metrics", "plots"):
        for out in body.get(kind, []):
            path = out if isinstance(out, str) else next(iter(out))
            found[path] = (kind, {} if isinstance(out, str) else out[path] or {})
    return found


IN_GIT = ("report", "scores", "scores_transfer", "label_candidates", "train_candidates")


def test_what_a_reviewer_reads_is_in_git_and_the_rest_in_the_cache():
    """Every output of the per-variant stages that do the work goes to the DVC cache (the run-cache
    restores a stage only when all its outputs reached the remote); report and scores@ write to git
    only, in seconds: the summary and figures under results/, each variant's scores under
    metrics/scores/, the metrics a fresh clone reads with no remote and each experiment shows its own of."""
    declared = {}
    for name, body in stage_bodies(PROJECT_ROOT).items():
        for path, (kind, settings) in outputs(body).items():
            in_git = not settings.get("cache", True)
            assert in_git == (name in IN_GIT), f"{name}: {path} has cache: {not in_git}"
            assert path.startswith(("results/", "metrics/scores/")) == in_git, path
            if kind == "metrics":
                declared.setdefault(path, set()).add(name)
    assert declared == {
        "results/metrics.json": {"report"},
        "results/data.json": {"report"},
        "metrics/scores/${key}.json": {"scores", "scores_transfer"},
        "results/train_candidates/${key}.json": {"train_candidates"},  # opt-in: a cross-fit's cost
    }
    headline = {path for plot in DVC_YAML["plots"] for spec in plot.values() for path in spec["y"]}
    assert headline == {"results/training_curves.csv", "results/reliability.csv"}
    ignored = subprocess.run(["git", "check-ignore", "-q", "results/metrics.json"], cwd=PROJECT_ROOT)
    assert ignored.returncode == 1  # not git-ignored: it is committed


def test_every_default_variant_is_a_dvc_artifact_twice_keras_and_onnx():
    artifacts = DVC_YAML["artifacts"]
    for name in PARAMS["train"]["variants"]:
        assert artifacts[name]["path"] == f"data/models/{name}.keras" and artifacts[name]["type"] == "model"
        assert artifacts[f"{name}-onnx"]["path"] == f"data/export/{name}.onnx"
        assert artifacts[f"{name}-onnx"]["type"] == "model"
        assert artifacts[name]["desc"] and "mnist" in artifacts[name]["labels"]
    # And the prepared data, the one dataset: a version of it is a GTO tag too.
    assert artifacts["mnist-prepared"]["path"] == "data/prepared" and artifacts["mnist-prepared"]["type"] == "dataset"
    assert "data/prepared" in DVC_YAML["stages"]["preprocess"]["outs"]
    assert len(artifacts) == 2 * len(PARAMS["train"]["variants"]) + 1


def test_the_pull_request_workflow_runs_the_tested_script_for_both_sides():
    workflow = (PROJECT_ROOT / ".github/workflows/pull-request.yml").read_text()
    assert '"$RUNNER_TEMP/quick_profile.sh" base' in workflow and '"$RUNNER_TEMP/quick_profile.sh" head' in workflow
    assert "cp .github/scripts/quick_profile.sh" in workflow
    assert "secrets.DVC_REMOTE_URL" in workflow


def test_every_push_and_pull_request_runs_ruff_and_the_fast_tier():
    """The checks workflow: the linter, the formatter and the README's fast-tier command, on every
    push and pull request; the tier's marker is registered (pytest refuses unregistered ones)."""
    workflow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/checks.yml").read_text())
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML reads the key `on` as True
    commands = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    fast_tier = 'python -m pytest -m "not slow"'
    assert {"ruff check .", "ruff format --check .", fast_tier} <= set(commands)
    assert f"`{fast_tier}`" in README
    pytest_options = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in pytest_options["addopts"]
    assert any(marker.startswith("slow:") for marker in pytest_options["markers"])


def test_the_page_workflow_builds_the_site_stage_with_the_tested_script_and_deploys_it():
    workflow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/pages.yml").read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as True
    build = workflow["jobs"]["build"]["steps"]
    commands = "\n".join(step.get("run", "") for step in build)
    assert "npm ci" in commands and ".github/scripts/quick_profile.sh main" in commands
    upload = next(step for step in build if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "site" and "site" in DVC_YAML["stages"]
    assert DVC_YAML["stages"]["site"]["outs"] == ["site"]
    assert any(step.get("uses", "").startswith("actions/deploy-pages") for step in workflow["jobs"]["deploy"]["steps"])


def test_readme_compare_command_keeps_exactly_the_default_variants():
    """Its columns are the default variants' short labels; the summary's figures under their full
    names (accuracy.<variant>, ..., for dvc metrics diff and the gate) are dropped."""
    command = readme_compare_command()
    labels = leaderboard.short_labels(list(PARAMS["train"]["variants"]), PARAMS["report"]["short_names"])
    assert command[command.index("--keep") + 1] == f"^({'|'.join(labels.values())})$"
    dropped = command[command.index("--drop") + 1].split("|")
    assert {figure.key for figure in leaderboard.FIGURES} <= set(dropped)


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default zoo's summary, written as report writes it (results/metrics.json, in git), in a
    repo with a baseline and two experiments on the flagship's params."""
    repo = tmp_path_factory.mktemp("experiments")
    names = list(PARAMS["train"]["variants"])
    labels = leaderboard.short_labels(names, PARAMS["report"]["short_names"])

    def write_summary(accuracies: dict[str, float]) -> None:
        (repo / "results").mkdir(exist_ok=True)
        evaluations = {
            name: {
                "accuracy": accuracy,
                "f1_macro": accuracy - 0.0001,
                "epochs_run": 10,
                "training_seconds": 100.0 + 1000 * accuracy,
            }
            for name, accuracy in accuracies.items()
        }
        (repo / "results/metrics.json").write_text(json.dumps(leaderboard.summary(evaluations, labels)))

    def git(*arguments: str) -> None:
        subprocess.run(
            ["git", "-c", "user.email=t@e", "-c", "user.name=t", *arguments], cwd=repo, check=True, capture_output=True
        )

    git("init", "-q")
    dvc(repo, "init", "-q")
    shutil.copy(PROJECT_ROOT / "params.yaml", repo / "params.yaml")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"metrics": ["results/metrics.json"]}))
    write_summary(BASELINE)
    git("add", "-A"), git("commit", "-qm", "baseline")
    for experiment, key, value in (("filters-32", "filters", 32), ("dropout-0.3", "dropout", 0.3)):
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["model"][key] = value
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        write_summary({**BASELINE, "flagship": 0.9957})
        dvc(repo, "exp", "save", "-q", "-n", experiment)
        git("checkout", "-q", "--", "."), git("clean", "-qfd")
    return repo


BASELINE = {
    name: round(0.9713 + index / 1000, 4) for index, name in enumerate(PARAMS["train"]["variants"])
}  # errors 2.87-2.17


def dvc(repo: Path, *arguments: str, columns: int = 120) -> str:
    return subprocess.run(
        [str(Path(sys.executable).with_name("dvc")), *arguments],
        cwd=repo,
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS=str(columns)),
        check=True,
    ).stdout


@pytest.mark.slow
def test_readme_compare_command_shows_the_whole_zoo_in_one_row_per_experiment(experiments: Path):
    """One row each, every variant's test error and the two params that differ, nothing collapsed
    to '…' at the width the README states, at most 120 columns."""
    labels = leaderboard.short_labels(list(BASELINE), PARAMS["report"]["short_names"])
    width = int(re.search(r"(\d+) columns wide", (PROJECT_ROOT / "docs/sharing.md").read_text()).group(1))
    assert width <= 120
    shown = dvc(experiments, *readme_compare_command()[1:], columns=width)
    lines = shown.splitlines()
    assert "…" not in shown and max(map(len, lines)) <= width, shown
    header = next(line for line in lines if "Experiment" in line).split()
    assert header == ["Experiment", *labels.values(), "model.filters", "model.dropout"], shown
    for experiment, changed in (("[filters-32]", ["32", "0.25"]), ("[dropout-0.3]", ["16", "0.3"])):
        row = next(line for line in lines if experiment in line).split()
        assert row[-2:] == changed and row[-3] == "0.43", shown  # the flagship's error, 100 - 99.57
        assert row[-2 - len(labels) : -3] == [f"{100 - 100 * BASELINE[name]:.3g}" for name in list(labels)[:-1]], shown


def test_exp_show_lists_each_variants_test_error_first(experiments: Path):
    """The summary's short labels are the first metric columns of `dvc exp show`, in train.variants
    order, one row per experiment. (Plain `dvc exp show` in 120 columns still collapses to '…':
    DVC lists all ~140 keys of params.yaml after the metrics; docs/sharing.md says so.)"""
    labels = list(leaderboard.short_labels(list(BASELINE), PARAMS["report"]["short_names"]).values())
    rows = dvc(experiments, "exp", "show", "--csv").splitlines()
    header = rows[0].split(",")
    assert header[header.index("Created") + 2 : header.index("Created") + 2 + len(labels)] == labels, header
    flagship = next(row for row in rows if row.startswith("filters-32,")).split(",")
    assert flagship[header.index("flag")] == "0.43"


@pytest.mark.slow
def test_a_fresh_clone_reads_the_committed_metrics_with_no_remote(experiments: Path, tmp_path: Path):
    """`dvc metrics show` and `dvc metrics diff` with numbers on both sides, from git alone."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(experiments), str(clone)], check=True)
    shown = dvc(clone, "metrics", "show", "--json")
    assert json.loads(shown)[""]["data"]["results/metrics.json"]["data"]["accuracy"] == BASELINE
    (clone / "results/metrics.json").write_text((clone / "results/metrics.json").read_text().replace("0.9783", "0.99"))
    diff = json.loads(dvc(clone, "metrics", "diff", "HEAD", "--json"))["results/metrics.json"]
    assert diff["accuracy.flagship"] == {"old": 0.9783, "new": 0.99, "diff": pytest.approx(0.0117)}


def committed(path: str) -> str:
    """`path` as the checked-out commit holds it: what a fresh clone reads before its own `dvc repro`
    rewrites results/ with that machine's training seconds."""
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert shown.returncode == 0, f"{path} is not committed: {shown.stderr.strip()}"
    return shown.stdout


def test_the_readmes_results_table_is_the_committed_summary():
    """Typed by no one: the committed README's table is the committed leaderboard
    (results/leaderboard.md), and both are what results/metrics.json (written by the committed run's
    report, in git) says, through the one list of summary figures, every default variant in it. The
    committed state, not the workspace's: the README's set-up command runs `dvc repro`, which writes
    this machine's results before its test command runs."""
    summary = json.loads(committed("results/metrics.json"))
    assert set(summary["accuracy"]) == set(PARAMS["train"]["variants"])
    table = leaderboard.leaderboard_table(summary)
    assert table in committed("results/leaderboard.md")
    assert table in committed("README.md")


def test_the_workspaces_leaderboard_is_its_summary():
    """Whatever run wrote the workspace's results/, its leaderboard is its summary's table."""
    summary = json.loads((PROJECT_ROOT / "results/metrics.json").read_text())
    assert leaderboard.leaderboard_table(summary) in (PROJECT_ROOT / "results/leaderboard.md").read_text()
