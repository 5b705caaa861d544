"""Writing outputs atomically: a stage that fails leaves no half-written file a later stage
would trust."""

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path` to write to; on success it becomes `path` (readable by all,
    by rename, so readers never see half a file), on any error it is removed and `path` untouched.
    For writers that want a path (Keras' save and export) as much as for bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield Path(temp_name)
        os.chmod(temp_name, 0o644)  # mkstemp's 0600 would hide outputs from other users
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` via a temp file and rename, so readers never see half a file."""
    with atomic_path(path) as temp_path:
        temp_path.write_bytes(payload)


def write_json(path: Path, data: Any) -> None:
    """Write pretty, key-sorted JSON atomically (sorted keys keep git diffs small)."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write named arrays as one .npz file atomically (NumPy's zip has fixed timestamps, so the same
    arrays give the same bytes, and DVC the same hash)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())
