"""The tree, dvc.yaml, params.yaml, README and CI agree with each other."""

import re

import yaml

from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
DVC_YAML = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def readme_commands() -> list[str]:
    """The shell blocks on the README's first screen, before the first horizontal rule."""
    first_screen = README.split("\n---\n")[0]
    return re.findall(r"```bash\n(.*?)\n```", first_screen, flags=re.S)


def test_top_level_holds_what_the_readme_promises():
    for name in ("dvc.yaml", "params.yaml", "stages", "data", "metrics", "plots", "tests",
                 "README.md", ".ci/run", ".dvc/config", "requirements.txt"):
        assert (PROJECT_ROOT / name).exists(), name
    for name in ("dvc.yaml", "params.yaml", "stages/", "data/", "metrics/", "plots/", "tests/", ".ci/run"):
        assert name in README.split("## Layout")[1], f"README's layout section misses {name}"


def test_readme_first_screen_has_exactly_two_commands_and_ci_runs_the_test_one():
    setup, tests = readme_commands()
    assert "python3 -m venv .venv" in setup and "pip install -r requirements.txt" in setup
    assert setup.endswith("dvc repro")
    test_command = tests.split("&&")[-1].strip()
    ci_script = (PROJECT_ROOT / ".ci/run").read_text()
    assert test_command in ci_script.split("# The README's test command:")[1]
    assert "MNIST_MIRROR=" in README.split("\n---\n")[0]


def test_every_stage_module_exists_with_a_docstring_and_main():
    commands = [stage.get("cmd") or stage["do"]["cmd"] for stage in DVC_YAML["stages"].values()]
    modules = {re.search(r"python -m stages\.(\w+)", command).group(1) for command in commands}
    assert modules == {"fetch", "preprocess", "train", "evaluate", "report", "transfer"}
    for module in modules | {"gate", "pr_comment"}:
        source = (PROJECT_ROOT / "stages" / f"{module}.py").read_text()
        assert source.startswith('"""'), f"stages/{module}.py needs a docstring"
        assert "def main(" in source


def test_every_variant_maps_to_a_params_section_and_is_documented():
    catalogue = {**PARAMS["train"]["variants"], **(PARAMS["train"]["transfer_variants"] or {})}
    for name, section in catalogue.items():
        node = PARAMS
        for key in section.split("."):
            node = node[key]
        assert "family" in node, name
    for name in set(PARAMS["variants"]) | set(PARAMS["train"]["variants"]):
        assert f"| `{name}` |" in README, f"README's variant table misses {name}"


def test_data_and_models_are_never_git_files():
    ignored = (PROJECT_ROOT / "data/.gitignore").read_text().split()
    assert {"/raw", "/prepared"} <= set(ignored)
    for stage in DVC_YAML["stages"].values():
        body = stage.get("do", stage)
        for out in body.get("outs", []):
            path = out if isinstance(out, str) else next(iter(out))
            if path.startswith("data/"):
                assert isinstance(out, str) or out[path].get("cache", True), path
