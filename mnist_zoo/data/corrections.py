"""Labels a team fixes in git: labels/corrections.csv holds one row per example whose published label
is not the one to use, applied when preprocess makes the splits. A row names the example by its id
(`train:12345`, `test:947`), the SHA-256 of the image it was written against, the label MNIST
published, the label to use (0-9) or `exclude` (not a usable digit), why, and who decided.

Every row is checked against the images before anything is written: a wrong id, a hash of another
image (the row was written against another version of the data), a published label that is not
the file's, a label outside 0-9 or two rows for one example stop preprocess with the file and line.
"""

import csv
import hashlib
import io
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mnist_zoo.config import NUM_CLASSES

COLUMNS = ("id", "sha256", "published", "label", "reason", "decided_by")
EXCLUDE = "exclude"
SOURCES = ("train", "test")  # the id's prefix: which MNIST file the example comes from


class Correction(NamedTuple):
    source: str  # "train" or "test"
    index: int  # the example's row in MNIST's file
    sha256: str
    published: int
    label: int | None  # None: excluded
    reason: str
    decided_by: str
    line: int  # where it is in the file, for messages

    @property
    def id(self) -> str:
        return example_id(self.source, self.index)


def pixel_sha256(image: np.ndarray) -> str:
    """The SHA-256 of an image's 784 uint8 pixel bytes, row by row: the example's content, whatever
    file or array it sits in."""
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def example_id(source: str, index: int) -> str:
    return f"{source}:{index}"


def read_corrections(path: Path) -> list[Correction]:
    """The rows of a corrections file, each checked on its own (id, label); no file: no corrections."""
    if not path.is_file():
        return []
    return parse_corrections(path.read_text(), path)


def parse_corrections(text: str, path: Path) -> list[Correction]:
    """The rows of a corrections file's `text`; messages name `path` and the line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    if tuple(header) != COLUMNS:
        raise ValueError(f"{path}:1: the header is {','.join(header)}; expected {','.join(COLUMNS)}.")
    corrections, seen = [], {}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        where = f"{path}:{line}"
        if len(row) != len(COLUMNS):
            raise ValueError(f"{where}: {len(row)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)}).")
        identifier, sha256, published, label, reason, decided_by = (field.strip() for field in row)
        source, _, index = identifier.partition(":")
        if source not in SOURCES or not index.isdigit():
            raise ValueError(f"{where}: id {identifier!r} is not an example's id; write train:<index> or test:<index>.")
        if identifier in seen:
            raise ValueError(
                f"{where}: a second row for {identifier} (the first is line {seen[identifier]}); keep one."
            )
        seen[identifier] = line
        if not published.isdigit() or int(published) >= NUM_CLASSES:
            raise ValueError(f"{where}: published label {published!r} is not a digit 0-9.")
        if label != EXCLUDE and (not label.isdigit() or int(label) >= NUM_CLASSES):
            raise ValueError(f"{where}: label {label!r} is neither a digit 0-9 nor {EXCLUDE!r}.")
        if not reason or not decided_by:
            raise ValueError(f"{where}: say why (reason) and who decided (decided_by) for {identifier}.")
        corrections.append(
            Correction(
                source,
                int(index),
                sha256.lower(),
                int(published),
                None if label == EXCLUDE else int(label),
                reason,
                decided_by,
                line,
            )
        )
    return corrections


def apply_corrections(
    corrections: list[Correction], source: str, images: np.ndarray, published: np.ndarray, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """The labels to use for one source's examples and which of them to keep, after checking each of
    its corrections against the image and label it was written against."""
    labels, keep = published.astype(np.uint8).copy(), np.ones(len(published), dtype=bool)
    for correction in corrections:
        if correction.source != source:
            continue
        where, identifier = f"{path}:{correction.line}", correction.id
        if correction.index >= len(images):
            raise ValueError(f"{where}: no example {identifier}: MNIST's {source} file has {len(images)} images.")
        actual = pixel_sha256(images[correction.index])
        if actual != correction.sha256:
            raise ValueError(
                f"{where}: {identifier}'s image has SHA-256 {actual}, the row says {correction.sha256}: it was "
                "written against another image (another version of the data). Check the example and rewrite the row."
            )
        if published[correction.index] != correction.published:
            raise ValueError(
                f"{where}: {identifier}'s published label is {published[correction.index]}, the row says "
                f"{correction.published}."
            )
        if correction.label is None:
            keep[correction.index] = False
        else:
            labels[correction.index] = correction.label
    return labels, keep


class Decision(NamedTuple):
    """A reviewer's answer about one example: the label to use (0-9, the published one when it is
    right) or EXCLUDE, and the row's reason and reviewer."""

    id: str
    sha256: str
    published: int
    label: int | str
    reason: str
    decided_by: str


def decision_row(decision: Decision) -> str:
    """The decision as one line of the file (a reason's line breaks become spaces: one row, one line)."""
    buffer = io.StringIO()
    fields = (decision.id, decision.sha256, decision.published, decision.label, decision.reason, decision.decided_by)
    csv.writer(buffer, lineterminator="\n").writerow([" ".join(str(field).split()) for field in fields])
    return buffer.getvalue()


def record_decisions(path: Path, decisions: list[Decision]) -> list[int]:
    """Write each decision as its example's row of the corrections file (replacing an earlier row for
    it, keeping every other line as it is) in one atomic write; the lines they are on.

    The file as it stands is checked first (a hand edit that broke it is refused with its line), then
    every decision: its label, and that an existing row for the example was written against the same
    image and published label. Any refusal writes nothing."""
    from mnist_zoo.files import atomic_write_bytes

    text = path.read_text() if path.is_file() else ""
    existing = {row.id: row for row in parse_corrections(text, path)}
    lines = text.splitlines(keepends=True) or [",".join(COLUMNS) + "\n"]
    if not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    placed = {identifier: row.line - 1 for identifier, row in existing.items()}  # index in `lines`
    for decision in decisions:
        label = str(decision.label)
        if label != EXCLUDE and (not label.isdigit() or int(label) >= NUM_CLASSES):
            raise ValueError(f"{decision.id}: label {label!r} is neither a digit 0-9 nor {EXCLUDE!r}; nothing written.")
        if not decision.reason.strip() or not decision.decided_by.strip():
            raise ValueError(f"{decision.id}: say why (reason) and who decided (decided_by); nothing written.")
        row = existing.get(decision.id)
        if row is not None and (row.sha256 != decision.sha256 or row.published != decision.published):
            raise ValueError(
                f"{path}:{row.line}: the row for {decision.id} was written against image {row.sha256[:12]}… with "
                f"published label {row.published}; this decision is about {decision.sha256[:12]}… labelled "
                f"{decision.published}. Fix or delete that row, then decide again; nothing written."
            )
        if decision.id in placed:
            lines[placed[decision.id]] = decision_row(decision)
        else:
            placed[decision.id] = len(lines)
            lines.append(decision_row(decision))
    text = "".join(lines)
    parse_corrections(text, path)  # what is written reads back, checked before it is
    atomic_write_bytes(path, text.encode())
    return [placed[decision.id] + 1 for decision in decisions]
