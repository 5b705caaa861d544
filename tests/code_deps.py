"""Which project files each DVC stage's code depends on, found by following its imports with `ast`
from the module its command runs. In DVC a code file is a cache key: a stage must list exactly the
project modules it runs, no fewer (an edit would go unseen) and no more (an edit would rerun it
for nothing). `python -m tests.code_deps` prints each stage's list; `python -m tests.code_deps --write`
puts them into the pipeline's files (a module moved or an import added), comments and other deps kept.
"""

import ast
import re
import sys
from pathlib import Path

import yaml

PROJECT_PACKAGES = ("mnist_zoo", "stages")
# The pipeline's files: the root one, and its shipping half (ONNX exports and their checks).
PIPELINE_FILES = ("dvc.yaml", "ship/dvc.yaml")
COMMAND_MODULE = re.compile(r"python -m ([\w.]+)")


def module_files(root: Path, dotted: str) -> list[Path]:
    """The project files importing `dotted` runs: each package's __init__.py on the way (where one
    exists) and the module itself; nothing for a name outside the project packages."""
    parts = dotted.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return []
    files = []
    for length in range(1, len(parts) + 1):
        base = root.joinpath(*parts[:length])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                files.append(candidate)
    return files


def docstring_only(path: Path) -> bool:
    """Whether a module is at most one docstring (an empty __init__.py counts)."""
    body = ast.parse(path.read_text(), str(path)).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body) and len(body) <= 1


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (a lazy import still runs):
    `from a import b` counts `a` and, in case b is a submodule, `a.b`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise ValueError(f"{path}: relative import at line {node.lineno}; the project imports absolutely")
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def code_deps(root: Path, module: str) -> set[str]:
    """The project files (relative POSIX paths) running `python -m module` executes."""
    seen: set[Path] = set()
    pending = module_files(root, module)
    if not pending:
        raise ValueError(f"{module} is not a module of the project under {root}")
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            pending += module_files(root, name)
    # A docstring runs nothing: a room's __init__.py saying what the room holds (mnist_zoo's hold
    # only that, tests/test_code_deps.py checks) is no stage's dep, and editing it reruns nothing.
    return {path.relative_to(root).as_posix() for path in seen if not docstring_only(path)}


def stage_bodies(root: Path) -> dict[str, dict]:
    """Every pipeline file's stages by name, a foreach stage by its `do` body."""
    bodies = {}
    for pipeline in PIPELINE_FILES:
        if (root / pipeline).is_file():
            stages = yaml.safe_load((root / pipeline).read_text())["stages"]
            bodies |= {name: stage.get("do", stage) for name, stage in stages.items()}
    return bodies


def mismatches(root: Path) -> dict[str, dict[str, set[str]]]:
    """Per stage whose listed .py deps differ from its imports: what it misses and what it lists
    for nothing. Empty when the pipeline's files are right."""
    found = {}
    for name, body in stage_bodies(root).items():
        module = COMMAND_MODULE.search(body["cmd"]).group(1)
        listed = {dep for dep in body.get("deps", []) if dep.endswith(".py")}
        imported = code_deps(root, module)
        if listed != imported:
            found[name] = {"missing": imported - listed, "extra": listed - imported}
    return found


def ordered_deps(root: Path, module: str) -> list[str]:
    """A stage's code deps as the pipeline's files list them: its own module first, then the rest sorted."""
    own = f"{module.replace('.', '/')}.py"
    return [own, *sorted(code_deps(root, module) - {own})]


def write_code_deps(root: Path) -> list[str]:
    """Rewrites each stage's .py deps in the pipeline's files to what its imports run, leaving every
    other line (data deps, comments, params) as it is; returns the stages whose lists changed."""
    changed = []
    for pipeline in PIPELINE_FILES:
        path = root / pipeline
        if not path.is_file():
            continue
        stages = yaml.safe_load(path.read_text())["stages"]
        lines, out, stage = path.read_text().splitlines(keepends=True), [], None
        index = 0
        while index < len(lines):
            line = lines[index]
            name = re.match(r"  (\w+):\s*$", line)
            if name and name.group(1) in stages:
                stage = name.group(1)
            code_dep = re.match(r"(\s*)- ((?:" + "|".join(PROJECT_PACKAGES) + r")/\S+\.py)\s*$", line)
            if not code_dep:
                out.append(line)
                index += 1
                continue
            listed = []
            while index < len(lines) and (match := re.match(code_dep.group(1) + r"- (\S+\.py)\s*$", lines[index])):
                listed.append(match.group(1))
                index += 1
            body = stages[stage].get("do", stages[stage])
            wanted = ordered_deps(root, COMMAND_MODULE.search(body["cmd"]).group(1))
            if wanted != listed:
                changed.append(f"{pipeline}:{stage}")
            out += [f"{code_dep.group(1)}- {dep}\n" for dep in wanted]
        path.write_text("".join(out))
    return changed


if __name__ == "__main__":
    project = Path(__file__).resolve().parents[1]
    if sys.argv[1:] == ["--write"]:
        for stage in write_code_deps(project):
            print(f"rewrote {stage}'s code deps")
    else:
        for stage, body in stage_bodies(project).items():
            print(f"{stage}:")
            for dep in ordered_deps(project, COMMAND_MODULE.search(body["cmd"]).group(1)):
                print(f"  - {dep}")
