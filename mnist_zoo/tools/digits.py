"""File drawings and scans into digits/ as your own digits: `mnist-digits add FILE ...` moves each
`<writer>_<digit>_<rest>.<ext>` (the page's Save names its drawings so) to digits/<writer>/<digit>/
<rest>.<ext>; `--writer NAME --digit D` files scans named anything. Each file is read as a digit
first (the pipeline's normalisation): a file that holds none stays where it is, named.

Then `dvc add digits/<writer>` and `dvc repro`: digits/README.md.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

from mnist_zoo.data.digits import IMAGE_SUFFIXES, ImageError, load_digit
from mnist_zoo.data.own_digits import DIGITS_DIR

SAVED_NAME = re.compile(r"(?P<writer>[a-z0-9][a-z0-9-]*)_(?P<digit>[0-9])_(?P<rest>.+)")
WRITER = re.compile(r"[a-z0-9][a-z0-9-]*")


def destination(path: Path, writer: str | None, digit: int | None, root: Path) -> Path:
    """Where a file goes under `root`: from its name, or the writer and digit given."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ImageError(f"{path}: not an image mnist-predict reads (one of {', '.join(sorted(IMAGE_SUFFIXES))})")
    if writer is not None and digit is not None:
        return root / writer / str(digit) / path.name
    match = SAVED_NAME.fullmatch(path.name)
    if not match:
        raise ImageError(
            f"{path}: not named <writer>_<digit>_<rest> as the page saves drawings; "
            "pass --writer NAME --digit D to file it as that writer's digit"
        )
    return root / match["writer"] / match["digit"] / match["rest"]


def add(paths: list[Path], writer: str | None = None, digit: int | None = None, root: Path = DIGITS_DIR) -> list[Path]:
    """Move each file to its place in `root` once all of them are known to hold a digit and to have
    a free place (nothing moves otherwise); the new paths."""
    targets = [destination(path, writer, digit, root) for path in paths]
    for path, target in zip(paths, targets, strict=True):
        load_digit(path)  # an ImageError names the file
        if target.exists():
            raise ImageError(f"{path}: {target} already exists; rename one of them")
    if len(set(targets)) != len(targets):
        raise ImageError("two of the files would land on the same name; rename one of them")
    for path, target in zip(paths, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mnist-digits", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="move drawings or scans into digits/<writer>/<digit>/")
    adding.add_argument("files", nargs="+", type=Path)
    adding.add_argument("--writer", help="the writer's name (lower-case letters, digits, -) for files named otherwise")
    adding.add_argument("--digit", type=int, choices=range(10), help="their label, with --writer")
    adding.add_argument("--to", type=Path, default=DIGITS_DIR, help="the folder (default: digits/)")
    arguments = parser.parse_args(argv)
    if (arguments.writer is None) != (arguments.digit is None):
        parser.error("--writer and --digit go together")
    if arguments.writer is not None and not WRITER.fullmatch(arguments.writer):
        parser.error(f"--writer {arguments.writer!r}: use lower-case letters, digits and - (e.g. alice or team-2)")
    try:
        moved = add(arguments.files, arguments.writer, arguments.digit, arguments.to)
    except ImageError as error:
        print(f"mnist-digits: {error}; nothing was moved.", file=sys.stderr)
        return 1
    writers = sorted({path.relative_to(arguments.to).parts[0] for path in moved})
    for path in moved:
        print(path.as_posix())
    print(
        f"{len(moved)} digit{'s' if len(moved) != 1 else ''} filed. Next: "
        + " && ".join(f"dvc add {(arguments.to / writer).as_posix()}" for writer in writers)
        + " && dvc repro",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
