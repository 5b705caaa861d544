"""Telling a real change from noise between two runs of the zoo (a pull request against its base):
per variant, the change in test accuracy, the paired McNemar test on the same test images (the two
discordant counts and the exact p-value), and whether the change lies inside the recipe's measured
seed band (results/seed_bands.json, from bench/seed_spread.py). A drop is a regression only when it
is both significant and outside the band; params.yaml's report.significance and report.band_sds
set both bars.
"""

import hashlib
import json
import math
from typing import Any, NamedTuple

import numpy as np

from mnist_zoo.evaluation.slices import exact_mcnemar

# The recipe keys a band was measured with, besides the variant's own section: what else shapes
# its spread. A band measured under other values is stale.
SHARED_KEYS = (
    ("data", "validation_size"),
    ("data", "split_seed"),
    ("data", "subset"),
    ("data", "test_subset"),
    ("train", "early_stopping_patience"),
)


class McNemar(NamedTuple):
    """Paired test images: right on the base side only, right on the head side only, and the exact
    two-sided p-value of that split under 'no difference' (binomial, p = 1/2)."""

    base_only: int
    head_only: int
    p_value: float


def mcnemar(labels: np.ndarray, base_digits: np.ndarray, head_digits: np.ndarray) -> McNemar:
    """The exact McNemar test of two models' answers on the same images."""
    if not len(labels) == len(base_digits) == len(head_digits):
        raise ValueError(
            f"Paired predictions must be of the same images: {len(labels)} labels, "
            f"{len(base_digits)} and {len(head_digits)} predictions."
        )
    base_right, head_right = base_digits == labels, head_digits == labels
    base_only, head_only = int(np.sum(base_right & ~head_right)), int(np.sum(head_right & ~base_right))
    return McNemar(base_only, head_only, exact_mcnemar(base_only, head_only))


def recipe_fingerprint(params: dict[str, Any], spec: dict[str, Any]) -> str:
    """What a seed band belongs to: the variant's section and the shared keys that shape its
    spread, hashed (a change to any of them makes the band stale)."""
    shared = {".".join(key): params[key[0]][key[1]] for key in SHARED_KEYS}
    text = json.dumps({"spec": spec, "shared": shared}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Band(NamedTuple):
    mean: float
    sd: float
    seeds: int
    stale: bool  # measured for another recipe than today's


def band_for(bands: dict[str, Any], profile: str, variant: str, fingerprint: str) -> Band | None:
    """The variant's seed band on `profile` from results/seed_bands.json, or None if never measured."""
    entry = bands.get(profile, {}).get(variant)
    if entry is None:
        return None
    return Band(entry["mean"], entry["sd"], len(entry["accuracies"]), entry["recipe"] != fingerprint)


class Verdict(NamedTuple):
    variant: str
    base: float
    head: float
    test: McNemar | None  # None where either side's predictions are missing
    band: Band | None
    significant: bool
    beyond_band: bool | None  # the change is larger than band_sds of the band's sd (None: no band)
    outside_band: bool  # what the verdict takes: beyond the band, or no band to trust (none or stale)
    regression: bool


def judge(
    variant: str,
    base: float,
    head: float,
    test: McNemar | None,
    band: Band | None,
    significance: float,
    band_sds: float,
) -> Verdict:
    """A drop is a regression when the paired test finds it significant (p under `significance`) and
    it is larger than `band_sds` standard deviations of the recipe's seed band. Without the paired
    test it cannot be significant; without a band (or with a stale one) any significant drop counts."""
    change = head - base
    significant = test is not None and test.p_value < significance
    beyond_band = None if band is None else abs(change) > band_sds * band.sd
    outside_band = band is None or band.stale or bool(beyond_band)
    return Verdict(
        variant,
        base,
        head,
        test,
        band,
        significant,
        beyond_band,
        outside_band,
        regression=change < 0 and significant and outside_band,
    )


def describe(verdict: Verdict, band_sds: float) -> dict[str, str]:
    """The comment's and the gate's cells for one variant."""
    change = verdict.head - verdict.base
    test = verdict.test
    if test is None:
        paired = "no predictions to pair"
    else:
        paired = f"{test.base_only} / {test.head_only}, p = {test.p_value:.3g}"
    band = verdict.band
    if band is None:
        seeds = "not measured"
    else:
        seeds = (
            f"{'outside' if verdict.beyond_band else 'inside'} ±{band_sds:g} sd "
            f"({100 * band.sd:.2f} pp over {band.seeds} seeds)" + (", stale: the recipe changed" if band.stale else "")
        )
    return {
        "accuracy": f"{verdict.base:.2%} -> {verdict.head:.2%} ({100 * change:+.2f} pp)",
        "paired": paired,
        "band": seeds,
        "verdict": "REGRESSION" if verdict.regression else ("better" if change > 0 else "ok"),
    }


def seed_band(accuracies: list[float], fingerprint: str, seeds: list[int]) -> dict[str, Any]:
    """One recipe's band as results/seed_bands.json holds it."""
    mean = float(np.mean(accuracies))
    sd = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else math.nan
    return {"seeds": seeds, "accuracies": accuracies, "mean": round(mean, 6), "sd": round(sd, 6), "recipe": fingerprint}


def read_summary(revision: str | None) -> dict[str, Any]:
    """results/metrics.json at a git revision (as `dvc metrics show` reads it), or in the workspace."""
    from mnist_zoo.config import RESULTS_METRICS_PATH

    if revision is None:
        if not RESULTS_METRICS_PATH.exists():
            raise ValueError(f"{RESULTS_METRICS_PATH} is missing: run `dvc repro` (the report stage writes it) first.")
        return json.loads(RESULTS_METRICS_PATH.read_text())
    import dvc.api
    from dvc.scm import RevError

    try:
        return dvc.api.metrics_show(RESULTS_METRICS_PATH.as_posix(), rev=revision)
    except (RevError, FileNotFoundError) as error:
        raise ValueError(
            f"Cannot read the test accuracies in {RESULTS_METRICS_PATH} at revision {revision!r} "
            f"({type(error).__name__}: {error}). Pass a revision whose pipeline ran and whose "
            f"{RESULTS_METRICS_PATH} is committed."
        ) from None


def read_predictions(variant: str, revision: str | None) -> np.ndarray | None:
    """A variant's digit per test image at a revision (from the DVC cache or remote) or in the
    workspace; None where that run's predictions cannot be had."""
    import io

    from mnist_zoo.config import PREDICTIONS_DIR

    path = PREDICTIONS_DIR / f"{variant}.npy"
    try:
        if revision is None:
            return np.load(path)
        import dvc.api

        return np.load(io.BytesIO(dvc.api.read(path.as_posix(), rev=revision, mode="rb")))
    except Exception:  # noqa: BLE001 - a missing or unreadable file means "no paired test", said so in the table
        return None


def compare(base_revision: str, head_revision: str | None, profile: str, params: dict[str, Any]) -> list[Verdict]:
    """Every variant both sides evaluated, judged: the head side (a revision, or the workspace)
    against the base on the same test images, with the recipe's seed band on `profile`."""
    from mnist_zoo.config import PREPARED_DIR, SEED_BANDS_PATH
    from mnist_zoo.data.dataset import load_split
    from mnist_zoo.params import catalogue, variant_spec

    base, head = read_summary(base_revision)["accuracy"], read_summary(head_revision)["accuracy"]
    labels = load_split(PREPARED_DIR / "test.npz")[1] if (PREPARED_DIR / "test.npz").is_file() else None
    bands = json.loads(SEED_BANDS_PATH.read_text()) if SEED_BANDS_PATH.is_file() else {}
    report = params["report"]
    verdicts = []
    for name in sorted(base.keys() & head.keys()):
        base_digits, head_digits = read_predictions(name, base_revision), read_predictions(name, head_revision)
        paired = None
        if (
            labels is not None
            and base_digits is not None
            and head_digits is not None
            and len(base_digits) == len(head_digits) == len(labels)
        ):
            paired = mcnemar(labels, base_digits, head_digits)
        fingerprint = recipe_fingerprint(params, variant_spec(params, name)) if name in catalogue(params) else ""
        verdicts.append(
            judge(
                name,
                base[name],
                head[name],
                paired,
                band_for(bands, profile, name, fingerprint),
                report["significance"],
                report["band_sds"],
            )
        )
    return verdicts
