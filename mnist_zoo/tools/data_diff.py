"""What a data change did: compare the data of two revisions from their catalogs, example by example
(added, removed, moved between splits, relabelled, image changed; per source and class), with each
model's answers on exactly the changed test examples and a contact sheet of the changed images.

Run: `mnist-data-diff main` (main against the workspace), `mnist-data-diff v1 v2`, with `--sheet
changed.png` for the contact sheet and `--csv changes.csv` for every changed row (or
`python -m mnist_zoo.tools.data_diff`). The pull-request comment's Data section is this.
"""

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_zoo.config import EVALUATION_DIR, PREPARED_DIR, RAW_DIR
from mnist_zoo.data.digits import ImageError, load_digit
from mnist_zoo.data.own_digits import DIGITS_DIR, SOURCE
from mnist_zoo.data.prepare import IDX_FILES, decode_split
from mnist_zoo.experiments.comparison import read_predictions, read_summary
from mnist_zoo.experiments.data_diff import (
    answers_on_changes,
    answers_on_own,
    contact_sheet,
    diff_catalogs,
    diff_markdown,
    read_catalog_at,
)
from mnist_zoo.figures import save_figure


def raw_images(identifiers: list[str], raw_dir: Path = RAW_DIR, digits_dir: Path = DIGITS_DIR) -> dict[str, np.ndarray]:
    """The pixels of the examples named, from MNIST's files and digits/ in the workspace (none for
    those absent)."""
    found = {}
    for source, (images_name, labels_name) in IDX_FILES.items():
        wanted = [int(i.partition(":")[2]) for i in identifiers if i.partition(":")[0] == source]
        if wanted and (raw_dir / images_name).is_file():
            images, _ = decode_split((raw_dir / images_name).read_bytes(), (raw_dir / labels_name).read_bytes(), source)
            found |= {f"{source}:{index}": images[index] for index in wanted if index < len(images)}
    for identifier in identifiers:  # your digits, normalised as preprocess makes them, from digits/
        source, _, path = identifier.partition(":")
        if source == SOURCE and (digits_dir / path).is_file():
            try:
                found[identifier] = np.round(load_digit(digits_dir / path)).astype(np.uint8)
            except ImageError:
                continue
    return found


def own_images_at(revision: str | None) -> dict[str, np.ndarray]:
    """Your writers' slice as preprocess normalised it at a revision (its own.npz, from the DVC cache
    or remote) or in the workspace, by id; empty where it cannot be had."""
    path = PREPARED_DIR / "own.npz"
    try:
        if revision is None:
            content = path.read_bytes()
        else:
            import dvc.api

            content = dvc.api.read(path.as_posix(), rev=revision, mode="rb")
        with np.load(io.BytesIO(content)) as arrays:
            return dict(zip(arrays["ids"].tolist(), arrays["images"], strict=True))
    except Exception:  # noqa: BLE001 - no own.npz there (a revision before your digits)
        return {}


def own_answers_at(model: str, revision: str | None) -> dict[str, int] | None:
    """A model's answer on each of your writers' digits, from its evaluation at a revision (the DVC
    cache or remote) or in the workspace; None where that cannot be had."""
    path = EVALUATION_DIR / f"{model}.json"
    try:
        if revision is None:
            text = path.read_text()
        else:
            import dvc.api

            text = dvc.api.read(path.as_posix(), rev=revision)
        return json.loads(text)["slices"]["own"]["answers"]
    except Exception:  # noqa: BLE001 - no evaluation there, or one from before your writers' slice
        return None


def models_at(revision: str | None) -> set[str]:
    """The models a revision's summary lists; none where it has no summary (no per-model answers)."""
    try:
        return set(read_summary(revision)["accuracy"])
    except Exception:  # noqa: BLE001 - no summary, or no repository: the data diff stands without them
        return set()


def data_section(
    old_revision: str,
    new_revision: str | None,
    old_name: str,
    new_name: str,
    sheet: Path | None = None,
    limit: int = 48,
) -> tuple[str, pd.DataFrame]:
    """The Markdown of the data diff and every changed row."""
    old, new = read_catalog_at(old_revision), read_catalog_at(new_revision)
    changes = diff_catalogs(old, new)
    answers, own = [], []
    if not changes.empty:
        predictions = {
            model: (read_predictions(model, old_revision), read_predictions(model, new_revision))
            for model in models_at(old_revision) & models_at(new_revision)
        }
        answers = answers_on_changes(changes, old, new, predictions)
        if (changes["split_new"] == "own").any():
            own = answers_on_own(
                changes, new, {model: own_answers_at(model, new_revision) for model in models_at(new_revision)}
            )
    shown = None
    if sheet is not None and not changes.empty:
        changed = set(changes["id"])
        images = {}  # your digits as each side's preprocess saw them, then the workspace's files
        if (changes["source"] == SOURCE).any():
            for revision in (new_revision, old_revision):
                images |= {i: image for i, image in own_images_at(revision).items() if i in changed and i not in images}
        images |= raw_images(sorted(changed - images.keys()))
        if images:
            save_figure(contact_sheet(changes, images, limit), sheet)
            shown = sheet.as_posix()
    return diff_markdown(changes, answers, old_name, new_name, len(new), shown, own), changes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="the revision to compare against, e.g. main or a data version's tag")
    parser.add_argument("new", nargs="?", default=None, help="the other revision (default: the workspace)")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet of the changed images here")
    parser.add_argument("--csv", type=Path, default=None, help="write every changed row here")
    parser.add_argument("--limit", type=int, default=48, help="at most this many images on the sheet")
    arguments = parser.parse_args(argv)
    if arguments.limit < 1:
        parser.error(f"--limit is {arguments.limit}; give 1 or more images for the sheet.")
    try:
        markdown, changes = data_section(
            arguments.old, arguments.new, arguments.old, arguments.new or "workspace", arguments.sheet, arguments.limit
        )
    except ValueError as error:
        sys.exit(f"mnist-data-diff: {error}")
    if arguments.csv is not None:
        buffer = io.StringIO()
        changes.to_csv(buffer, index=False, lineterminator="\n")
        arguments.csv.write_text(buffer.getvalue())
    sys.stdout.write(markdown)


if __name__ == "__main__":
    main()
