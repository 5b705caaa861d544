"""The catalog: every MNIST example, one row each, as preprocess placed it. A row's id is its source
file and its index there (`train:12345`, `test:947`), stable across versions of the splits; its
`sha256` is that of its 784 pixel bytes, so a changed image is seen even under the same id. Beside
them: the label MNIST published and the one used (after labels/corrections.csv: a digit, or
`exclude`), its writer and writer group from QMNIST, and where it went (train, validation, test,
or `unused` when a quick run's subset left it out). Your own digits (digits/, own_digits.py) follow,
`own:<writer>/<digit>/<file>`, in split `own` (the slice every evaluation reports) or `train`.

The data card (results/data.md, in git) is the catalog counted: per class, writer group and split,
with the version of every input it was made from.
"""

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mnist_zoo.config import NUM_CLASSES
from mnist_zoo.data.corrections import EXCLUDE
from mnist_zoo.data.own_digits import GROUP, OwnDigits
from mnist_zoo.files import atomic_write_bytes

COLUMNS = ("id", "sha256", "published", "label", "writer", "group", "split")
SPLITS = ("train", "validation", "test", "own", "excluded", "unused")
# Where an example is read by the models: trained on, selected on, tested on, your writers' slice.
PLACED = ("train", "validation", "test", "own")


def write_catalog(path: Path, catalog: pd.DataFrame) -> None:
    """The catalog as CSV, in the sources' order (train file, then test file), written atomically."""
    buffer = io.StringIO()
    catalog.loc[:, list(COLUMNS)].to_csv(buffer, index=False, lineterminator="\n")
    atomic_write_bytes(path, buffer.getvalue().encode())


def read_catalog(source: Path | str | io.StringIO) -> pd.DataFrame:
    """A catalog as written, every column as text but the writer (labels may read `exclude`)."""
    return pd.read_csv(source, dtype={column: str for column in COLUMNS if column != "writer"}, keep_default_na=False)


def catalog_rows(
    source: str,
    hashes: list[str],
    published: np.ndarray,
    labels: np.ndarray,
    keep: np.ndarray,
    writers: np.ndarray,
    groups: np.ndarray,
    placed: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One source's rows: `placed` maps a split's name to the indices (into the source) that went there."""
    split = np.full(len(published), "unused", dtype="<U10")
    for name, indices in placed.items():
        split[indices] = name
    split[~keep] = "excluded"
    return pd.DataFrame(
        {
            "id": [f"{source}:{index}" for index in range(len(published))],
            "sha256": hashes,
            "published": published.astype(str),
            "label": np.where(keep, labels.astype(str), EXCLUDE),
            "writer": writers,
            "group": groups,
            "split": split,
        }
    )


def own_catalog_rows(own: OwnDigits, hashes: list[str], trains: np.ndarray) -> pd.DataFrame:
    """Your digits' rows: the label is the folder's, the split `train` for those that train, else `own`."""
    labels = own.labels.astype(str)
    return pd.DataFrame(
        {
            "id": own.ids,
            "sha256": hashes,
            "published": labels,
            "label": labels,
            "writer": own.writers,
            "group": GROUP,
            "split": np.where(trains, "train", "own"),
        },
        columns=list(COLUMNS),
    )


def counts(catalog: pd.DataFrame) -> dict[str, Any]:
    """Per split: its images, writers and per writer group and class the images (a DVC metric, so
    `dvc metrics diff` shows a data change), and the writers any two splits share."""
    placed = catalog[catalog["split"].isin(PLACED)]
    result: dict[str, Any] = {"splits": {}}
    for split, rows in placed.groupby("split", sort=False):
        result["splits"][split] = {
            "images": len(rows),
            "writers": int(rows["writer"].nunique()),
            "groups": {
                group: {
                    "images": len(in_group),
                    "per_class": np.bincount(in_group["label"].astype(int), minlength=NUM_CLASSES).tolist(),
                }
                for group, in_group in rows.groupby("group")
            },
        }
    writers = {split: set(rows["writer"]) for split, rows in placed.groupby("split")}
    names = sorted(writers)
    result["shared_writers"] = {
        f"{a}/{b}": len(writers[a] & writers[b]) for i, a in enumerate(names) for b in names[i + 1 :]
    }
    relabelled = catalog[(catalog["label"] != catalog["published"]) & (catalog["label"] != EXCLUDE)]
    result["corrections"] = {
        "relabelled": {
            source: int(relabelled["id"].str.startswith(f"{source}:").sum()) for source in ("train", "test")
        },
        "excluded": {
            source: int(((catalog["split"] == "excluded") & catalog["id"].str.startswith(f"{source}:")).sum())
            for source in ("train", "test")
        },
    }
    return result


def data_card(summary: dict[str, Any], inputs: dict[str, Any]) -> str:
    """results/data.md: what the splits hold and what they were made from."""
    lines = [
        "# Data card",
        "",
        "What `preprocess` made of MNIST (written by `report` from data/prepared/catalog.csv, one row per",
        "example: [docs/data.md](../docs/data.md)). Writer groups are QMNIST's NIST series: Census Bureau",
        f"employees (series 0 and 1) and high-school students (series 4); `{GROUP}` is your writers' digits",
        "(digits/, [docs/data.md](../docs/data.md#your-own-digits)).",
        "",
        "| Split | Group | Images | " + " | ".join(str(digit) for digit in range(NUM_CLASSES)) + " |",
        "|---|---|---:|" + "---:|" * NUM_CLASSES,
    ]
    for split, entry in summary["splits"].items():
        for group, in_group in sorted(entry["groups"].items()):
            per_class = " | ".join(f"{count:,}" for count in in_group["per_class"])
            lines.append(f"| {split} | {group} | {in_group['images']:,} | {per_class} |")
    lines += ["", "| Split | Images | Writers |", "|---|---:|---:|"]
    lines += [f"| {split} | {entry['images']:,} | {entry['writers']:,} |" for split, entry in summary["splits"].items()]
    shared = ", ".join(f"{pair}: {count}" for pair, count in summary["shared_writers"].items())
    corrections = summary["corrections"]
    lines += [
        "",
        f"Writers in two splits: {shared}.",
        "",
        f"Corrections ({inputs['corrections']['path']}, {inputs['corrections']['rows']} rows): relabelled "
        f"{corrections['relabelled']['train']} training and {corrections['relabelled']['test']} test digits, excluded "
        f"{corrections['excluded']['train']} and {corrections['excluded']['test']}.",
        "",
        "Split: " + ", ".join(f"data.{key} {value}" for key, value in sorted(inputs["split"].items())) + ".",
        "",
        "| Input | SHA-256 (of a .gz file's content) |",
        "|---|---|",
    ]
    lines += [f"| {name} | `{digest}` |" for name, digest in inputs["files"].items()]
    lines += [
        f"| digits/{writer} ({entry['images']:,} files) | `{entry['sha256']}` (of their paths and bytes) |"
        for writer, entry in inputs.get("own_digits", {}).items()
    ]
    return "\n".join(lines) + "\n"


def inputs_json(
    files: dict[str, str],
    corrections_path: Path,
    num_corrections: int,
    split: dict[str, Any],
    own_digits: dict[str, Any] | None = None,
) -> bytes:
    """What the catalog was made from: each input file's SHA-256, the corrections, the split's params
    and your writers' folders (their images and digest, own_digits.folder_digest)."""
    record = {
        "files": files,
        "corrections": {"path": corrections_path.as_posix(), "rows": num_corrections},
        "split": split,
        "own_digits": own_digits or {},
    }
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
