"""A person's digit brought to MNIST's format: images (PNG, JPEG, BMP, GIF, TIFF) or .npy arrays,
any size, colour or grey, dark ink on light paper or light on dark, made into what the models were
trained on. The same recipe runs in the browser page; a test holds the two to each other.
"""

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_zoo.config import IMAGE_SIZE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".npy"}
# MNIST's recipe: the digit's bounding box scaled to fit 20x20, centred by its centre of mass in 28x28.
BOX_SIZE = 20
# Ink is what stands out from the background by at least this share of the image's contrast;
# JPEG ringing and paper texture stay below it.
INK_THRESHOLD = 0.2
# Below this contrast (grey levels, 0-255) an image holds no ink, only noise: it is blank.
MIN_CONTRAST = 32


class ImageError(ValueError):
    """A file that cannot be read as a digit; the message says which file and why."""


def read_grey(path: Path) -> np.ndarray:
    """The file as a 2-D float32 array of grey levels 0-255 (transparent pixels count as paper)."""
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as error:
            raise ImageError(f"{path}: not a readable .npy array ({error})") from None
        array = np.squeeze(array)
        if array.ndim == 3 and array.shape[-1] in (3, 4):
            array = array[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if array.ndim != 2 or min(array.shape) < 2:
            raise ImageError(f"{path}: expected a 2-D image array (H, W) or (H, W, 3), got shape {array.shape}")
        return array * 255 if array.max(initial=0) <= 1 else array
    try:
        with Image.open(path) as image:
            image.load()
            if "A" in image.getbands() or "transparency" in image.info:
                paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(paper, image.convert("RGBA"))
            return np.asarray(image.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None


def normalise(grey: np.ndarray, source: str = "image") -> np.ndarray:
    """MNIST's preprocessing: light ink on dark, cropped to the ink, scaled to fit 20x20 keeping
    the aspect ratio, placed in 28x28 with its centre of mass at the centre. Returns (28, 28)
    float32, 0-255."""
    grey = np.asarray(grey, dtype=np.float32)  # Pillow's "F" mode is float32
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    ink = np.abs(grey - background)  # either polarity becomes light ink on a dark background
    contrast = float(ink.max())
    if contrast < MIN_CONTRAST:
        raise ImageError(f"{source}: no ink found (the image is blank: contrast {contrast:.0f} of 255)")
    ink = np.clip(ink * (255.0 / contrast), 0, 255)
    rows, columns = np.nonzero(ink > INK_THRESHOLD * 255)
    ink = ink[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    scale = BOX_SIZE / max(ink.shape)
    height, width = (max(1, round(side * scale)) for side in ink.shape)
    box = np.asarray(Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.LANCZOS))
    box = np.clip(box, 0, 255)
    row_centre, column_centre = (
        float((box.sum(axis=1 - axis) * np.arange(box.shape[axis])).sum() / box.sum()) for axis in (0, 1)
    )
    top = int(np.clip(round(IMAGE_SIZE / 2 - 0.5 - row_centre), 0, IMAGE_SIZE - height))
    left = int(np.clip(round(IMAGE_SIZE / 2 - 0.5 - column_centre), 0, IMAGE_SIZE - width))
    digit = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    digit[top : top + height, left : left + width] = box
    return digit


def load_digit(path: Path) -> np.ndarray:
    if not path.exists():
        raise ImageError(f"{path}: no such file or directory")
    if path.is_dir():
        raise ImageError(f"{path}: a directory with no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return normalise(read_grey(path), str(path))
