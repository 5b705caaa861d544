"""Saving matplotlib figures as PNG files whose bytes depend only on what they show."""

import io
from pathlib import Path

from matplotlib.figure import Figure

from mnist_zoo.files import atomic_write_bytes


def save_figure(figure: Figure, path: Path) -> None:
    """Render a figure to PNG atomically, with no version stamp (stable bytes), and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
