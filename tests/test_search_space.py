"""mnist-search's space files and its reading of DVC's log, on no data: every mistake in a space
file is refused naming the file and the key, before any trial starts."""

from pathlib import Path

import pytest
import yaml

from mnist_zoo.experiments.search_space import Dimension, grid_size, load_space, switch
from mnist_zoo.experiments.search_trials import read_dvc_log
from mnist_zoo.params import load_params
from tests.conftest import PROJECT_ROOT


def space_file(tmp_path: Path, **content: object) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def test_the_committed_space_loads_with_its_profile():
    space = load_space(PROJECT_ROOT / "search/flagship.yaml", load_params(PROJECT_ROOT / "params.yaml"))
    assert space.variant == "flagship" and space.sampler == "tpe" and space.trials >= 24
    assert space.profile["data.subset"] == 10000  # bench/pull_request_profile.yaml


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"space": {"model.filterz": [8, 16]}}, "'model.filterz' is not in params.yaml"),
        ({"space": {"model.filters": {"low": 16, "high": 8}}}, "must be a number below high"),
        ({"space": {"model.filters": {"low": 8}}}, "expected {choices: [...]} or {low: ..., high: ...}"),
        ({"space": {"model.filters": {"choices": []}}}, "`choices` is empty"),
        ({"space": {"model.filters": [8], "variants.lenet5.epochs": [2]}}, "touches variants ['flagship', 'lenet5']"),
        ({"space": {"seed": [1, 2]}}, "lies in no variant's section"),
        ({"space": {"model.filters": [8]}, "variant": "vgg"}, "variant 'vgg' is not in params.yaml's train.variants"),
        ({"space": {"model.filters": [8]}, "sampler": "random"}, "sampler 'random'"),
        ({"space": {"model.filters": [8]}, "trials": 0}, "trials 0"),
        (
            {"space": {"model.dropout": {"low": 0.0, "high": 0.5}}, "sampler": "grid"},
            "grid sampler needs `choices` or a `step`",
        ),
        ({"space": {"model.filters": [8]}, "profile": {"model.epochs": 0}}, "its profile"),
        ({"space": {"model.filters": [8]}, "trails": 3}, "unknown key(s) ['trails']"),
        ({"space": {"model.filters": [8]}, "study": "a b", "trials": 2}, "letters, digits"),
    ],
)
def test_a_bad_space_is_refused_naming_the_file_and_what_is_wrong(tmp_path: Path, content: dict, message: str):
    path = space_file(tmp_path, **content)
    with pytest.raises(ValueError) as error:
        load_space(path, load_params(PROJECT_ROOT / "params.yaml"))
    assert str(path) in str(error.value) and message in str(error.value)


def test_the_variant_is_the_one_whose_section_holds_the_keys_and_a_grid_covers_every_combination(tmp_path: Path):
    path = space_file(
        tmp_path,
        space={"variants.lenet5.epochs": {"low": 2, "high": 6, "step": 2}, "variants.lenet5.batch_size": [64, 128]},
        sampler="grid",
    )
    space = load_space(path, load_params(PROJECT_ROOT / "params.yaml"))
    assert space.variant == "lenet5" and space.trials == 6 == grid_size(space.dimensions)
    assert Dimension("x", low=0.1, high=0.3, step=0.1).grid() == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    ("value", "written"),
    [(1e-05, "1.0e-05"), (0.002, "0.002"), (64, "64"), ("same", '"same"'), ([1, 2], "[1, 2]"), (True, "true")],
)
def test_a_value_is_written_so_that_params_yaml_reads_it_back_unchanged(value: object, written: str):
    text = switch("model.key", value)
    assert text == f"model.key={written}"
    assert yaml.safe_load(text.split("=", 1)[1]) == value  # PyYAML, as the stages read params.yaml


def test_dvc_s_log_says_which_stages_ran_which_were_restored_and_how_long_the_commands_took():
    log = "\n".join(
        [
            "2026-12-06 08:00:00,000 DEBUG: stage: 'preprocess' changed.",
            "Stage 'preprocess' is cached - skipping run, checking out outputs",
            "2026-12-06 08:00:01,000 DEBUG: Dependency 'params.yaml' of stage: 'train@flagship' changed",
            "Running stage 'train@flagship':",
            "> python -m stages.train flagship",
            "Epoch 1/1",
            "2026-12-06 08:00:31,500 DEBUG: Computed stage: 'train@flagship' md5: 'abc'",
            "2026-12-06 08:00:32,000 DEBUG: stage: 'evaluate@flagship' changed.",
            "Running stage 'evaluate@flagship':",
            "> python -m stages.evaluate flagship",
            "2026-12-06 08:00:42,000 DEBUG: Computed stage: 'evaluate@flagship' md5: 'def'",
        ]
    )
    run = read_dvc_log(log, 0)
    assert run.stages_run == ["train@flagship", "evaluate@flagship"]
    assert run.stages_restored == ["preprocess"]
    assert run.stage_seconds == 40.5
    assert "Epoch 1/1" in run.log_tail and "DEBUG" not in run.log_tail


def test_the_objective_is_the_space_files_a_validation_figure_never_the_test_sets(tmp_path: Path):
    params = load_params(PROJECT_ROOT / "params.yaml")
    path = tmp_path / "loss.yaml"
    path.write_text(
        "variant: flagship\ntrials: 2\nobjective: validation.loss\nspace:\n  model.dropout: {low: 0.0, high: 0.5}\n"
    )
    space = load_space(path, params)
    assert space.objective == "validation.loss" and space.direction == "minimize"
    assert space.objective_label == "validation loss"
    assert load_space(PROJECT_ROOT / "search/flagship.yaml", params).direction == "maximize"
    path.write_text(path.read_text().replace("validation.loss", "test.accuracy"))
    with pytest.raises(ValueError, match="never the test set") as error:
        load_space(path, params)
    assert str(path) in str(error.value)


def study_of(space, values: list[tuple[dict, float]]):
    """An in-memory Optuna study with these completed trials, as the search would have stored them."""
    import optuna

    study = optuna.create_study(direction=space.direction)
    for params, value in values:
        distributions = {
            item.key: optuna.distributions.FloatDistribution(item.low, item.high, log=item.log)
            for item in space.dimensions
        }
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
    return study


def test_the_studys_picture_is_byte_stable_and_its_axes_read_at_any_range(tmp_path: Path):
    """Three trials over a learning rate between 0.0125 and 0.027 (inside one decade): a few plain
    labels on the log axis, not every minor one on top of each other; whole trial numbers."""
    from mnist_zoo.experiments import search_report

    path = tmp_path / "narrow.yaml"
    path.write_text(
        "variant: flagship\ntrials: 3\nspace:\n  model.optimizer.learning_rate: {low: 0.0125, high: 0.027, log: true}\n"
    )
    space = load_space(path, load_params(PROJECT_ROOT / "params.yaml"))
    key = "model.optimizer.learning_rate"
    study = study_of(space, [({key: 0.013}, 0.981), ({key: 0.02}, 0.985), ({key: 0.026}, 0.983)])
    figure = search_report.plot_study(study, space)
    figure.canvas.draw()
    history, rate = figure.axes[:2]
    trial_ticks = [tick for tick in history.get_xticks() if history.get_xlim()[0] <= tick <= history.get_xlim()[1]]
    assert trial_ticks and all(float(tick).is_integer() for tick in trial_ticks), trial_ticks
    labels = [
        label.get_text() for label in rate.get_xticklabels() + rate.get_xticklabels(minor=True) if label.get_text()
    ]
    assert 2 <= len(labels) <= 5, labels
    boxes = sorted(
        (label.get_window_extent() for label in rate.get_xticklabels() if label.get_text()), key=lambda box: box.x0
    )
    assert all(left.x1 < right.x0 for left, right in zip(boxes, boxes[1:], strict=False)), "tick labels overlap"
    assert "validation accuracy (%)" in history.get_ylabel()
    first, second = (search_report.picture(study, space, tmp_path / f"{n}.png") for n in (1, 2))
    assert first.read_bytes() == second.read_bytes()
