"""Who wrote each MNIST digit: QMNIST's extended labels (Yadav & Bottou 2019) traced every MNIST
image back to NIST's forms, giving its writer and the NIST series the form came from. Series 0 and
1 were filled in by Census Bureau employees, series 4 by high-school students, whose digits are
known to be harder to read. MNIST's training writers and test writers are disjoint.
"""

import gzip
from typing import NamedTuple

import numpy as np

# The files, as fetch_qmnist stores them: the training file's rows are MNIST's training digits in
# order; the first rows of the test file are MNIST's test digits in order (the rest describe digits
# whose images MNIST never published).
QMNIST_FILES = {"train": "qmnist-train-labels-idx2-int.gz", "test": "qmnist-test-labels-idx2-int.gz"}
IDX2_INT_MAGIC = 0x00000C02  # signed 32-bit integers, two dimensions
NUM_COLUMNS = 8
CLASS_COLUMN, SERIES_COLUMN, WRITER_COLUMN = 0, 1, 2
# NIST's series, by who wrote them; every summary reads the names from here.
SERIES_GROUPS = {0: "employees", 1: "employees", 4: "students"}
GROUPS = ("employees", "students")


class Writers(NamedTuple):
    """One split's writer ID and series group ("employees" or "students") per digit, in MNIST's order."""

    writer: np.ndarray  # int32
    group: np.ndarray  # str, one of GROUPS


def parse_qmnist(content: bytes, name: str) -> np.ndarray:
    """QMNIST's (rows, 8) int32 table from its decompressed IDX file, checking magic and size."""
    if len(content) < 12 or int.from_bytes(content[:4], "big") != IDX2_INT_MAGIC:
        raise ValueError(f"{name}: not a QMNIST extended-labels file (an IDX of int32 rows of 8 columns).")
    rows, columns = int.from_bytes(content[4:8], "big"), int.from_bytes(content[8:12], "big")
    if columns != NUM_COLUMNS or len(content) != 12 + 4 * rows * columns:
        raise ValueError(
            f"{name}: header says {rows} rows of {columns} columns, the file holds {len(content) - 12} bytes after it; "
            "the file is corrupt: re-run `dvc repro fetch_qmnist`."
        )
    return np.frombuffer(content, dtype=">i4", offset=12).reshape(rows, columns).astype(np.int32)


def writers_for(qmnist_gz: bytes, labels: np.ndarray, name: str) -> Writers:
    """Each of a split's `labels` (MNIST's, in order) with its writer and series group, after checking
    that QMNIST's class column matches MNIST's labels one by one: a mismatch means the files are not
    the matching editions, and every per-writer figure would be about other digits."""
    table = parse_qmnist(gzip.decompress(qmnist_gz), name)
    if len(table) < len(labels):
        raise ValueError(f"{name}: {len(table)} rows for {len(labels)} MNIST digits; expected at least one row each.")
    table = table[: len(labels)]
    mismatched = np.flatnonzero(table[:, CLASS_COLUMN] != labels)
    if mismatched.size:
        first = int(mismatched[0])
        raise ValueError(
            f"{name}: row {first} has class {table[first, CLASS_COLUMN]} where MNIST's label is {labels[first]} "
            f"({mismatched.size} rows differ): the extended labels do not match these MNIST files. "
            "Fetch both from their verified sources (dvc repro fetch fetch_qmnist)."
        )
    unknown = sorted(set(np.unique(table[:, SERIES_COLUMN]).tolist()) - set(SERIES_GROUPS))
    if unknown:
        raise ValueError(f"{name}: NIST series {unknown}, expected one of {sorted(SERIES_GROUPS)}.")
    groups = np.array([SERIES_GROUPS[series] for series in table[:, SERIES_COLUMN]], dtype=f"<U{max(map(len, GROUPS))}")
    return Writers(table[:, WRITER_COLUMN], groups)
