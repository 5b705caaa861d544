"""Code deps follow the imports: each dvc.yaml stage lists exactly the project modules its command
runs (tests/code_deps.py finds them with `ast`), and no stage module imports another."""

import shutil
from pathlib import Path

import yaml

from tests.code_deps import (
    PIPELINE_FILES,
    code_deps,
    docstring_only,
    imported_modules,
    mismatches,
    stage_bodies,
    write_code_deps,
)
from tests.conftest import PROJECT_ROOT


def test_every_stage_lists_exactly_the_modules_it_imports():
    assert mismatches(PROJECT_ROOT) == {}


def test_no_stage_module_imports_another():
    for path in sorted((PROJECT_ROOT / "stages").glob("*.py")):
        stage_imports = {name for name in imported_modules(path) if name.split(".")[0] == "stages"}
        assert not stage_imports, f"{path.name} imports {sorted(stage_imports)}: move what both need into mnist_zoo/"


def test_every_stage_module_is_a_dvc_stage_with_a_docstring_and_main():
    commands = " ".join(body["cmd"] for body in stage_bodies(PROJECT_ROOT).values())
    for path in (PROJECT_ROOT / "stages").glob("*.py"):
        assert f"python -m stages.{path.stem}" in commands, f"{path} is not a dvc.yaml stage's command"
        source = path.read_text()
        assert source.startswith('"""') and "def main(" in source, path


def write_project(root: Path, files: dict[str, str], stage_deps: list[str]) -> Path:
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)
    stage = {"cmd": "python -m stages.report", "deps": [*stage_deps, "metrics/evaluation"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"report": stage}}))
    return root


def test_a_module_imported_but_not_listed_is_found(tmp_path: Path):
    """The layout this check was written against: `report` imported the model cards' module, which
    dvc.yaml did not list, so editing the card template left the cards stale."""
    old_layout = {
        "stages/__init__.py": "import os\n",
        "stages/report.py": "from stages.cards import model_card\nfrom stages.config import load_params\n",
        "stages/cards.py": "import yaml\n",
        "stages/config.py": "from stages.schema import check\n",
        "stages/schema.py": "def check(): pass\n",
    }
    root = write_project(tmp_path, old_layout, ["stages/report.py", "stages/config.py", "stages/schema.py"])
    assert mismatches(root) == {"report": {"missing": {"stages/__init__.py", "stages/cards.py"}, "extra": set()}}


def test_a_lazy_import_counts_and_a_dep_listed_for_nothing_is_found(tmp_path: Path):
    files = {
        "stages/report.py": "def main():\n    from mnist_zoo import cards\n",
        "mnist_zoo/__init__.py": "",
        "mnist_zoo/cards.py": "from mnist_zoo.config import X\n",
        "mnist_zoo/config.py": "X = 1\n",
        "mnist_zoo/models.py": "import keras\n",
    }
    root = write_project(
        tmp_path,
        files,
        [
            "stages/report.py",
            "mnist_zoo/__init__.py",
            "mnist_zoo/cards.py",
            "mnist_zoo/config.py",
            "mnist_zoo/models.py",
        ],
    )
    # The empty __init__.py runs nothing: listed, it is a dep for nothing too.
    assert mismatches(root) == {"report": {"missing": set(), "extra": {"mnist_zoo/__init__.py", "mnist_zoo/models.py"}}}
    assert code_deps(root, "stages.report") == {
        "stages/report.py",
        "mnist_zoo/cards.py",
        "mnist_zoo/config.py",
    }


def test_an_import_added_to_the_real_project_without_its_dep_is_found(tmp_path: Path):
    for folder in ("stages", "mnist_zoo"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for pipeline in PIPELINE_FILES:
        (tmp_path / pipeline).parent.mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / pipeline, tmp_path / pipeline)
    assert mismatches(tmp_path) == {}
    for stage in ("train", "robustness"):  # one stage of each pipeline file
        module = tmp_path / f"stages/{stage}.py"
        module.write_text(module.read_text() + "\n\ndef card():\n    from mnist_zoo.reporting import cards\n")
    cards = {"mnist_zoo/reporting/cards.py"}
    assert mismatches(tmp_path) == {stage: {"missing": cards, "extra": set()} for stage in ("train", "robustness")}
    # The one command that writes the lists puts them right, touching nothing else in either file.
    before = {pipeline: (tmp_path / pipeline).read_text() for pipeline in PIPELINE_FILES}
    assert write_code_deps(tmp_path) == ["dvc.yaml:train", "ship/dvc.yaml:robustness"]
    assert mismatches(tmp_path) == {}
    for pipeline, text in before.items():
        added = set((tmp_path / pipeline).read_text().splitlines()) - set(text.splitlines())
        assert {line.strip() for line in added} == {f"- {path}" for path in cards}
        assert set(text.splitlines()) <= set((tmp_path / pipeline).read_text().splitlines())


# The package's rooms in the data's own order: a room imports from the package's root modules
# (config, params, schema, files, runtime, figures), from itself and from rooms before it, never after.
ROOMS = ("data", "models", "training", "evaluation", "shipping", "reporting", "experiments", "tools")


def backward_imports(root: Path) -> list[str]:
    """Each import in mnist_zoo/ that runs from an earlier room to a later one, as `file: module`."""
    found = []
    for path in sorted((root / "mnist_zoo").rglob("*.py")):
        parts = path.relative_to(root / "mnist_zoo").parts
        floor = ROOMS.index(parts[0]) if len(parts) > 1 else -1
        for name in sorted(imported_modules(path)):
            target = name.split(".")
            if target[0] == "mnist_zoo" and len(target) > 1 and target[1] in ROOMS:
                if ROOMS.index(target[1]) > floor:
                    found.append(f"{path.relative_to(root).as_posix()}: {name}")
    return found


def test_only_a_module_that_is_one_docstring_is_no_code_dep(tmp_path: Path):
    init = tmp_path / "__init__.py"
    for source, runs_nothing in [
        ("", True),
        ('"""The data room."""\n', True),
        ('"""The data room."""\n\nfrom mnist_zoo.data import dataset\n', False),
        ("X = 1\n", False),
    ]:
        init.write_text(source)
        assert docstring_only(init) == runs_nothing, source
    assert not any(path.endswith("__init__.py") for path in code_deps(PROJECT_ROOT, "stages.train"))
    assert "mnist_zoo/data/dataset.py" in code_deps(PROJECT_ROOT, "stages.train")


def test_the_package_is_rooms_in_the_datas_order_and_imports_run_one_way():
    rooms = {path.name for path in (PROJECT_ROOT / "mnist_zoo").iterdir() if (path / "__init__.py").is_file()}
    assert rooms == set(ROOMS)
    for init in [*(PROJECT_ROOT / "mnist_zoo").rglob("__init__.py"), *(PROJECT_ROOT / "stages").glob("__init__.py")]:
        assert docstring_only(init), f"{init}: an __init__.py holds its room's docstring and nothing else"
    assert backward_imports(PROJECT_ROOT) == []


def test_an_import_from_a_later_room_is_found(tmp_path: Path):
    shutil.copytree(PROJECT_ROOT / "mnist_zoo", tmp_path / "mnist_zoo", ignore=shutil.ignore_patterns("__pycache__"))
    dataset = tmp_path / "mnist_zoo/data/dataset.py"
    dataset.write_text(dataset.read_text() + "\n\ndef score():\n    from mnist_zoo.evaluation import scoring\n")
    assert backward_imports(tmp_path) == [
        "mnist_zoo/data/dataset.py: mnist_zoo.evaluation",
        "mnist_zoo/data/dataset.py: mnist_zoo.evaluation.scoring",
    ]
