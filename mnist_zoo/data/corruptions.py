"""Corrupted scans: seeded corruptions of MNIST digits in the spirit of MNIST-C (Mu & Gilmer 2019,
arXiv:1906.02337), made here with numpy and scipy, nothing downloaded. Each takes uint8 images
(N, 28, 28), light ink on dark, and returns new ones of the same shape and dtype, the same for the
same seed and severity (1 mild to 5 strong). `identity` changes nothing: the clean baseline.
"""

from collections.abc import Callable

import numpy as np
from scipy import ndimage

SEVERITIES = range(1, 6)
Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def as_unit(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float64) / 255.0


def as_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)


def pick(severity: int, levels: tuple) -> float:
    """The level for `severity` (1-5) from five, mildest first."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity is {severity}; give 1 (mild) to 5 (strong).")
    return levels[severity - 1]


def identity(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return images.copy()


def shot_noise(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Photon noise: each pixel a Poisson count of its brightness times a photon budget."""
    photons = pick(severity, (60, 25, 12, 5, 3))
    return as_uint8(rng.poisson(as_unit(images) * photons) / photons)


def impulse_noise(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Salt and pepper: a share of the pixels set to black or white."""
    share = pick(severity, (0.03, 0.06, 0.09, 0.17, 0.27))
    noisy = images.copy()
    hit = rng.random(images.shape) < share
    noisy[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255)
    return noisy


def glass_blur(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Seen through frosted glass: blurred, then each pixel swapped with a random near one, blurred again."""
    sigma, reach, rounds = pick(severity, ((0.4, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.8, 2, 2)))
    unit = ndimage.gaussian_filter(as_unit(images), sigma=(0, sigma, sigma))
    count, height, width = unit.shape
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    for _ in range(rounds):
        shift_rows = np.clip(rows + rng.integers(-reach, reach + 1, unit.shape), 0, height - 1)
        shift_columns = np.clip(columns + rng.integers(-reach, reach + 1, unit.shape), 0, width - 1)
        unit = unit[np.arange(count)[:, None, None], shift_rows, shift_columns]
    return as_uint8(ndimage.gaussian_filter(unit, sigma=(0, sigma, sigma)))


def motion_blur(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A shaken camera: each image averaged along a line of the given length at a random angle."""
    length = int(pick(severity, (3, 5, 7, 9, 11)))
    unit = as_unit(images)
    blurred = np.empty_like(unit)
    offsets = np.arange(length) - (length - 1) / 2
    for index, angle in enumerate(rng.uniform(0, np.pi, len(unit))):
        kernel = np.zeros((length, length))
        centre = (length - 1) / 2
        kernel[
            np.round(centre + offsets * np.sin(angle)).astype(int),
            np.round(centre + offsets * np.cos(angle)).astype(int),
        ] = 1
        blurred[index] = ndimage.convolve(unit[index], kernel / kernel.sum(), mode="constant")
    return as_uint8(blurred)


def affine(images: np.ndarray, matrices: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """Each image through its own 2x2 map about the centre (and shift), black outside, bilinear."""
    centre = (np.array(images.shape[1:]) - 1) / 2
    unit = as_unit(images)
    moved = np.empty_like(unit)
    for index, matrix in enumerate(matrices):
        shift = centre - matrix @ centre + (0 if offsets is None else offsets[index])
        moved[index] = ndimage.affine_transform(unit[index], matrix, offset=shift, order=1, mode="constant")
    return as_uint8(moved)


def shear(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    amount = pick(severity, (0.2, 0.4, 0.6, 0.8, 1.0))
    factors = rng.uniform(-amount, amount, len(images))
    return affine(images, np.array([[[1.0, factor], [0.0, 1.0]] for factor in factors]))


def scale(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Written smaller: shrunk about the centre by a random factor."""
    smallest = pick(severity, (0.9, 0.8, 0.7, 0.6, 0.5))
    factors = rng.uniform(smallest, 1.0, len(images))
    return affine(images, np.array([np.eye(2) / factor for factor in factors]))


def rotate(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    degrees = pick(severity, (10, 20, 30, 40, 50))
    angles = np.radians(rng.uniform(-degrees, degrees, len(images)))
    return affine(images, np.array([[[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]] for a in angles]))


def translate(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Off-centre: shifted by up to a number of pixels in each direction."""
    reach = pick(severity, (2, 3, 4, 5, 6))
    offsets = rng.uniform(-reach, reach, (len(images), 2))
    return affine(images, np.repeat(np.eye(2)[None], len(images), axis=0), offsets)


def brightness(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Grey paper: the background lifted towards the ink."""
    return as_uint8(as_unit(images) + pick(severity, (0.1, 0.2, 0.3, 0.4, 0.5)))


def fog(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth, uneven haze: low-frequency noise added over the whole image."""
    strength, blur = pick(severity, ((0.2, 3), (0.3, 3), (0.4, 2.5), (0.5, 2.5), (0.6, 2)))
    haze = ndimage.gaussian_filter(rng.random(images.shape), sigma=(0, blur, blur))
    haze = (haze - haze.min(axis=(1, 2), keepdims=True)) / np.ptp(haze, axis=(1, 2), keepdims=True)
    return as_uint8(as_unit(images) + strength * haze)


def spatter(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Ink splashes: blobs of ink where smoothed noise crosses a threshold."""
    threshold = pick(severity, (0.88, 0.85, 0.82, 0.79, 0.76))
    blobs = ndimage.gaussian_filter(rng.random(images.shape), sigma=(0, 0.9, 0.9))
    blobs = (blobs - blobs.min(axis=(1, 2), keepdims=True)) / np.ptp(blobs, axis=(1, 2), keepdims=True)
    return np.maximum(images, as_uint8(blobs > threshold))


def draw(images: np.ndarray, paths: list[np.ndarray], keep: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Ink along each image's polyline (points as rows of (row, column)), where `keep` of the
    sample positions along it says so."""
    drawn = images.copy()
    for index, points in enumerate(paths):
        samples = np.concatenate(
            [np.linspace(start, end, 40) for start, end in zip(points[:-1], points[1:], strict=True)]
        )
        rows, columns = np.clip(np.round(samples), 0, np.array(images.shape[1:]) - 1).astype(int).T
        chosen = keep(np.arange(len(samples)))
        drawn[index, rows[chosen], columns[chosen]] = 255
    return drawn


def dotted_line(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A dotted stroke across the digit, from one random point to another."""
    lines = int(pick(severity, (1, 1, 2, 2, 3)))
    paths = [rng.uniform(0, 27, (2 * lines, 2)) for _ in range(len(images))]
    gap = int(pick(severity, (14, 12, 10, 8, 7)))
    return draw(images, paths, lambda positions: positions % gap == 0)


def zigzag(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A zigzag scrawl over the digit."""
    turns = int(pick(severity, (1, 2, 3, 4, 5)))
    paths = [rng.uniform(0, 27, (turns + 1, 2)) for _ in range(len(images))]
    return draw(images, paths, lambda positions: np.ones(len(positions), dtype=bool))


def stripe(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A band of inverted pixels, as a fold or a scanner's stripe leaves."""
    width = int(pick(severity, (2, 3, 4, 5, 6)))
    striped = images.copy()
    for index, column in enumerate(rng.integers(0, 28 - width, len(images))):
        striped[index, :, column : column + width] = 255 - striped[index, :, column : column + width]
    return striped


def canny_edges(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Only the outline: the digit's edges (gradient magnitude past a threshold), thinner at higher
    severity."""
    smooth = ndimage.gaussian_filter(as_unit(images), sigma=(0, 0.8, 0.8))
    magnitude = np.hypot(ndimage.sobel(smooth, axis=1), ndimage.sobel(smooth, axis=2))
    magnitude /= np.maximum(magnitude.max(axis=(1, 2), keepdims=True), 1e-12)
    return as_uint8(magnitude > pick(severity, (0.15, 0.25, 0.35, 0.45, 0.55)))


CORRUPTIONS: dict[str, Corruption] = {
    "identity": identity,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "shear": shear,
    "scale": scale,
    "rotate": rotate,
    "brightness": brightness,
    "translate": translate,
    "stripe": stripe,
    "fog": fog,
    "spatter": spatter,
    "dotted_line": dotted_line,
    "zigzag": zigzag,
    "canny_edges": canny_edges,
}


def corrupt(images: np.ndarray, kind: str, severity: int, seed: int) -> np.ndarray:
    """`images` under corruption `kind`: the same result for the same seed, whatever else ran."""
    # One generator per kind from the seed and the kind's name, so adding a kind changes no other.
    kind_seed = [seed, *kind.encode()]
    return CORRUPTIONS[kind](images, severity, np.random.default_rng(kind_seed))
