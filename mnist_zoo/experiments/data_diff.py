"""What a data change did, example by example: two revisions' catalogs (data/prepared/catalog.csv)
compared on their ids. An example is *in the data* when it sits in train, validation or test; it
is `added` when it was not (absent, excluded or left out by a subset) and is now, `removed` the other
way, `moved` when it changed split, `relabelled` when the label used changed, `image_changed` when
its pixels' SHA-256 did. Then, for each model, how its answers on exactly the changed test examples
changed (right before, right after), from the two revisions' predictions.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnist_zoo.data.catalog import read_catalog

IN_DATA = ("train", "validation", "test", "own")  # catalog.PLACED: trained, selected, tested on, or your slice
CHANGES = ("added", "removed", "moved", "relabelled", "image_changed")


def diff_catalogs(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """One row per (example, change): id, source, change, split on each side (`-` where the catalog has
    no such example) and label (`-` where it was not in the data), in id order within each change."""
    both = old.merge(new, on="id", how="outer", suffixes=("_old", "_new"), indicator=True)
    for side in ("old", "new"):
        absent = both[f"split_{side}"].isna() | ~both[f"split_{side}"].isin(IN_DATA)
        both[f"in_{side}"] = ~absent
        both.loc[absent, f"label_{side}"] = "-"
        both[f"split_{side}"] = both[f"split_{side}"].fillna("-")
    kept = both["in_old"] & both["in_new"]
    masks = {
        "added": ~both["in_old"] & both["in_new"],
        "removed": both["in_old"] & ~both["in_new"],
        "moved": kept & (both["split_old"] != both["split_new"]),
        "relabelled": kept & (both["label_old"] != both["label_new"]),
        "image_changed": (both["_merge"] == "both") & (both["sha256_old"] != both["sha256_new"]),
    }
    columns = ["id", "split_old", "split_new", "label_old", "label_new"]
    frames = []
    for change, mask in masks.items():
        rows = both.loc[mask, columns].copy()
        rows.insert(1, "change", change)
        frames.append(rows)
    changes = pd.concat(frames, ignore_index=True)
    identifiers = changes["id"].str.split(":", n=1)
    changes.insert(1, "source", identifiers.str[0])
    # MNIST's by their index in the file, your digits (own:<path>) by their path.
    changes["_index"] = pd.to_numeric(identifiers.str[1], errors="coerce")
    changes["_path"] = identifiers.str[1].where(changes["_index"].isna(), "")
    changes = changes.sort_values(["change", "source", "_index", "_path"], key=_change_order, kind="stable")
    return changes.drop(columns=["_index", "_path"]).reset_index(drop=True)


def _change_order(column: pd.Series) -> pd.Series:
    return column.map(CHANGES.index) if column.name == "change" else column


def change_counts(changes: pd.DataFrame) -> pd.DataFrame:
    """Per change and source, how many examples, and per class (the label on the side that has one)."""
    label = changes["label_new"].where(changes["label_new"] != "-", changes["label_old"])
    table = pd.crosstab([changes["change"], changes["source"]], label.rename("label"))
    table.insert(0, "examples", table.sum(axis=1))
    return table.reindex(sorted(table.index, key=lambda key: (CHANGES.index(key[0]), key[1])))


@dataclass(frozen=True)
class Answers:
    """One model on the changed test examples: how many it read right on each side, and how many
    turned from right to wrong and back. `examples` counts those present on both sides."""

    model: str
    examples: int
    right_before: int
    right_after: int
    now_wrong: int
    now_right: int


def positions_in_test(catalog: pd.DataFrame) -> dict[str, int]:
    """Each test example's row in test.npz and a model's predictions: preprocess writes the test split
    in the catalog's order."""
    return {identifier: position for position, identifier in enumerate(catalog.loc[catalog["split"] == "test", "id"])}


def answers_on_changes(
    changes: pd.DataFrame,
    old: pd.DataFrame,
    new: pd.DataFrame,
    predictions: dict[str, tuple[np.ndarray | None, np.ndarray | None]],
) -> list[Answers]:
    """Per model with predictions on both sides, its answers on the test examples a change touched
    and both sides hold (a relabel; an image changed): each side's answer judged by its own label."""
    old_at, new_at = positions_in_test(old), positions_in_test(new)
    touched = sorted(set(changes["id"]) & old_at.keys() & new_at.keys())
    if not touched:  # only examples added or removed, or none in the test split: nothing paired
        return []
    labels = {
        side: catalog.set_index("id").loc[touched, "label"].astype(int).to_numpy()
        for side, catalog in (("old", old), ("new", new))
    }
    found = []
    for model, (before, after) in sorted(predictions.items()):
        if before is None or after is None or len(before) != len(old_at) or len(after) != len(new_at):
            continue
        right_before = before[[old_at[i] for i in touched]] == labels["old"]
        right_after = after[[new_at[i] for i in touched]] == labels["new"]
        found.append(
            Answers(
                model,
                len(touched),
                int(right_before.sum()),
                int(right_after.sum()),
                int((right_before & ~right_after).sum()),
                int((~right_before & right_after).sum()),
            )
        )
    return found


@dataclass(frozen=True)
class OwnAnswers:
    """One model on your writers' digits that a change added to the slice (or changed there): how
    many it reads right at the new revision."""

    model: str
    examples: int
    right: int


def answers_on_own(
    changes: pd.DataFrame, new: pd.DataFrame, answers: dict[str, dict[str, int] | None]
) -> list[OwnAnswers]:
    """Per model whose new evaluation has your writers' answers, how it reads the changed digits of
    the slice (split `own` on the new side): added, relabelled or redrawn."""
    labels = new.set_index("id")["label"]
    touched = sorted(set(changes.loc[changes["split_new"] == "own", "id"]))
    found = []
    for model, by_id in sorted(answers.items()):
        if not by_id or not touched or any(identifier not in by_id for identifier in touched):
            continue
        right = sum(str(by_id[identifier]) == labels[identifier] for identifier in touched)
        found.append(OwnAnswers(model, len(touched), right))
    return found


def contact_sheet(changes: pd.DataFrame, images: dict[str, np.ndarray], limit: int) -> Figure:
    """The first `limit` changed examples (of those whose pixels are known), each captioned with its
    id and what changed."""
    import matplotlib.pyplot as plt

    shown = changes.drop_duplicates("id").loc[lambda rows: rows["id"].isin(images.keys())].head(limit)
    columns = min(8, max(1, len(shown)))
    rows = max(1, -(-len(shown) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.75 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, change in zip(axes.flat, shown.itertuples(index=False), strict=False):
        axis.imshow(images[change.id], cmap="gray_r", vmin=0, vmax=255)
        axis.set_title(f"{short_id(change.id)}\n{caption(change)}", fontsize=7)
    figure.suptitle(f"Changed examples ({len(shown)} of {changes['id'].nunique()})", fontsize=9)
    figure.tight_layout()
    return figure


def short_id(identifier: str) -> str:
    """An id that fits under a thumbnail: MNIST's as they are, yours as writer/digit/…end of the file's name."""
    if len(identifier) <= 16:
        return identifier
    *folders, name = identifier.split("/")
    return "/".join(folders) + "/…" + name[-8:]


def caption(change: Any) -> str:
    if change.change == "relabelled":
        return f"label {change.label_old} → {change.label_new}"
    if change.change == "moved":
        return f"{change.split_old} → {change.split_new}"
    if change.change == "added":
        return f"added to {change.split_new}"
    if change.change == "removed":
        return f"removed from {change.split_old}"
    return "image changed"


def diff_markdown(
    changes: pd.DataFrame,
    answers: list[Answers],
    old_name: str,
    new_name: str,
    num_examples: int,
    sheet: str | None,
    own_answers: list[OwnAnswers] = (),
) -> str:
    """The Data section: one line when nothing changed; else the counts per change, source and class,
    the changed examples (the first 20 listed), each model's answers on them, and the contact sheet."""
    if changes.empty:
        return f"### Data\n\nNo data change: `{old_name}` and `{new_name}` hold the same {num_examples:,} examples.\n"
    counts = change_counts(changes)
    classes = [column for column in counts.columns if column != "examples"]
    lines = [
        "### Data",
        "",
        f"`{new_name}` against `{old_name}`: {plural(changes['id'].nunique(), 'example')} changed.",
        "",
        "| Change | Source | Examples | " + " | ".join(f"{label}" for label in classes) + " |",
        "|---|---|---:|" + "---:|" * len(classes),
    ]
    for (change, source), row in counts.iterrows():
        cells = " | ".join(str(row[label]) for label in classes)
        lines.append(f"| {change} | {source} | {row['examples']:,} | {cells} |")
    lines += ["", "| Example | Change | Split | Label |", "|---|---|---|---|"]
    for change in changes.head(20).itertuples(index=False):
        lines.append(
            f"| `{change.id}` | {change.change} | {change.split_old} → {change.split_new} | "
            f"{change.label_old} → {change.label_new} |"
        )
    if len(changes) > 20:
        lines.append(f"| ... | {len(changes) - 20} more rows: `mnist-data-diff` lists them all | | |")
    if answers:
        lines += [
            "",
            f"Each model on the {answers[0].examples} changed test examples both sides hold (each side judged by "
            "its own labels):",
            "",
            "| Model | Right before | Right after | Now wrong | Now right |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {a.model} | {a.right_before} | {a.right_after} | {a.now_wrong} | {a.now_right} |" for a in answers
        ]
    if own_answers:
        lines += [
            "",
            f"Each model on the {plural(own_answers[0].examples, 'digit')} of your writers this change brings "
            f"to the slice (`{new_name}`'s evaluations):",
            "",
            "| Model | Read right | Share |",
            "|---|---:|---:|",
        ]
        lines += [f"| {a.model} | {a.right} of {a.examples} | {a.right / a.examples:.0%} |" for a in own_answers]
    if sheet:
        lines += ["", f"![changed examples]({sheet})"]
    return "\n".join(lines) + "\n"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def read_catalog_at(revision: str | None) -> pd.DataFrame:
    """The catalog in the workspace (None) or at a git revision (from the DVC cache or remote); an
    error naming the revision and the fix when it cannot be had."""
    import io

    from mnist_zoo.config import CATALOG_PATH

    if revision is None:
        if not CATALOG_PATH.is_file():
            raise ValueError(f"{CATALOG_PATH} is missing: run `dvc repro preprocess` (or `dvc pull`) first.")
        return read_catalog(CATALOG_PATH)
    import dvc.api

    try:
        return read_catalog(io.StringIO(dvc.api.read(CATALOG_PATH.as_posix(), rev=revision)))
    except Exception as error:  # noqa: BLE001 - a bad revision, no catalog there, or not in cache nor remote
        raise ValueError(
            f"Cannot read {CATALOG_PATH} at revision {revision!r} ({type(error).__name__}: {error}). Pass a "
            "revision whose preprocess ran and was committed, with its outputs in the DVC cache or a remote "
            "(`dvc pull` them)."
        ) from None
