"""MNIST digits as a person would draw them: each digit thinned to its centre line (Zhang and Suen's
thinning) and traced into pen strokes, the paths a mouse follows to draw it again on the page."""

import numpy as np

INK = 100  # a pixel darker than this (of 255) is paper

# A pixel's eight neighbours, clockwise from the one above: (row, column) offsets.
NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def thin(ink: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean image: a one-pixel-wide centre line of each stroke."""
    image = np.pad(ink.astype(bool), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            remove = []
            for row, column in np.argwhere(image):
                around = [image[row + dr, column + dc] for dr, dc in NEIGHBOURS]
                count = sum(around)
                transitions = sum(not around[i] and around[(i + 1) % 8] for i in range(8))
                up, right, down, left = around[0], around[2], around[4], around[6]
                if step == 0:
                    outer = not (up and right and down) and not (right and down and left)
                else:
                    outer = not (up and right and left) and not (up and down and left)
                if 2 <= count <= 6 and transitions == 1 and outer:
                    remove.append((row, column))
            for row, column in remove:
                image[row, column] = False
            changed |= bool(remove)
    return image[1:-1, 1:-1]


def strokes(digit: np.ndarray) -> list[list[tuple[int, int]]]:
    """Pen strokes drawing `digit` (28x28, light ink on dark): lists of (x, y) pixel positions, each
    step to a neighbouring pixel, covering every link of the digit's centre line once."""
    line = thin(digit > INK)
    pixels = {(int(row), int(column)) for row, column in np.argwhere(line)}
    links = {
        frozenset((p, (p[0] + dr, p[1] + dc)))
        for p in pixels
        for dr, dc in NEIGHBOURS
        if (p[0] + dr, p[1] + dc) in pixels
    }

    def open_links(pixel: tuple[int, int]) -> list[tuple[int, int]]:
        return [other for dr, dc in NEIGHBOURS if frozenset((pixel, other := (pixel[0] + dr, pixel[1] + dc))) in links]

    paths = []
    lone = sorted(p for p in pixels if not open_links(p))
    while links:
        ends = sorted(p for p in pixels if len(open_links(p)) % 2 == 1) or sorted(p for p in pixels if open_links(p))
        path = [ends[0]]
        while following := open_links(path[-1]):
            links.discard(frozenset((path[-1], following[0])))
            path.append(following[0])
        paths.append(path)
    paths += [[pixel] for pixel in lone]
    return [[(column, row) for row, column in path] for path in paths]
