"""Getting a dataset's files, each verified by the SHA-256 of its decompressed content, from the
first source that has a good copy: its environment variable's mirror (a directory or a URL), then
params.yaml's mirrors in order. MNIST for the fetch stage; QMNIST's extended labels (each MNIST
digit's writer and NIST series) for fetch_qmnist; Fashion-MNIST's test set, the "not a digit"
images, for fetch_fashion.
"""

import gzip
import hashlib
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

from mnist_zoo.files import atomic_write_bytes

log = logging.getLogger("fetch")


class Dataset(NamedTuple):
    name: str
    # SHA-256 of each file's *decompressed* bytes: any faithful re-compression still passes.
    files: dict[str, str]
    variable: str  # the environment variable naming a mirror to try first (where-to-get-it, not what-it-is)
    mirrors_key: str  # params.yaml's list of mirrors
    example: str  # a directory holding the files, for the error's advice


MNIST = Dataset(
    "MNIST",
    {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "MNIST_MIRROR",
    "data.mirrors",
    "../shared/data/mnist",
)
# QMNIST's extended labels (Yadav & Bottou 2019, facebookresearch/qmnist): 8 int32 columns per digit,
# its class, NIST series and writer among them; the training file's rows are MNIST's 60,000 training
# digits in order, the test file's first 10,000 rows MNIST's test digits.
QMNIST = Dataset(
    "QMNIST's extended labels",
    {
        "qmnist-train-labels-idx2-int.gz": "bb1b6e1ec7b04fd5696f1ed50b5f58f8ef195118edd5c93c81783df9740b8ac5",
        "qmnist-test-labels-idx2-int.gz": "92d0ccb8c25f9c6534270fb4be7e1d24a1c6d315edfc8a638bfbd31c70f362dd",
    },
    "QMNIST_MIRROR",
    "data.qmnist_mirrors",
    "../shared/data/qmnist",
)
# Zalando's Fashion-MNIST test set (Xiao et al. 2017): 10,000 28x28 images of clothes, MNIST's format.
FASHION_MNIST = Dataset(
    "Fashion-MNIST",
    {
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "FASHION_MNIST_MIRROR",
    "data.fashion_mirrors",
    "../shared/data/fashion-mnist",
)
CHUNK_BYTES = 1 << 16


class FetchError(RuntimeError):
    """No source could provide a verified copy of a file."""


def list_sources(mirrors: list[str], environment_mirror: str | None) -> list[str]:
    """The environment's mirror first (it is where-to-get-it, not what-it-is), then params'."""
    sources = [environment_mirror] if environment_mirror else []
    return sources + [mirror for mirror in mirrors if mirror not in sources]


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", "file://"))


def download(url: str, timeout_seconds: float) -> bytes:
    """GET `url`, logging progress every ~10%; a short body is reported as truncated."""
    with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
        expected_bytes = int(response.headers.get("Content-Length") or 0)
        chunks, received, next_report = [], 0, 0.1
        while chunk := response.read(CHUNK_BYTES):
            chunks.append(chunk)
            received += len(chunk)
            if expected_bytes and received / expected_bytes >= next_report:
                log.info("  %s: %3.0f%% of %d bytes", url, 100 * received / expected_bytes, expected_bytes)
                next_report += 0.1
    if expected_bytes and received < expected_bytes:
        raise FetchError(f"truncated: got {received} of {expected_bytes} bytes")
    return b"".join(chunks)


def read_from(source: str, filename: str, timeout_seconds: float) -> bytes:
    """Raw bytes of `filename` from a mirror URL or a local directory."""
    if is_url(source):
        return download(source.rstrip("/") + "/" + filename, timeout_seconds)
    path = Path(source) / filename
    if not path.is_file():
        raise FetchError(f"no such file {path}")
    return path.read_bytes()


def verify(dataset: Dataset, filename: str, payload: bytes) -> None:
    """Raise FetchError unless `payload` is gzip whose content has the expected SHA-256."""
    try:
        content = gzip.decompress(payload)
    except gzip.BadGzipFile:
        raise FetchError("not gzip") from None
    except EOFError:
        raise FetchError("truncated gzip stream") from None
    digest = hashlib.sha256(content).hexdigest()
    if digest != dataset.files[filename]:
        raise FetchError(f"checksum mismatch: sha256 {digest}, expected {dataset.files[filename]}")


def describe_failure(error: Exception) -> str:
    """One short phrase per failure kind, for the error listing every mirror tried."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, (TimeoutError, ConnectionError, OSError)):
        return f"unreachable ({error})"
    return str(error)


def fetch_file(dataset: Dataset, filename: str, sources: list[str], output_dir: Path, timeout_seconds: float) -> str:
    """Store a verified `filename` in `output_dir` from the first source that has it."""
    failures = []
    for source in sources:
        try:
            payload = read_from(source, filename, timeout_seconds)
            verify(dataset, filename, payload)
        except Exception as error:  # noqa: BLE001 - every failure is reported together below
            failures.append(f"  {source}: {describe_failure(error)}")
            log.warning("%s from %s failed: %s", filename, source, describe_failure(error))
            continue
        atomic_write_bytes(output_dir / filename, payload)
        log.info("%s: verified, %d bytes from %s", filename, len(payload), source)
        return source
    raise FetchError(
        f"Could not get a verified {filename} from any source. Tried:\n"
        + "\n".join(failures)
        + f"\nFix: set {dataset.variable} to a directory holding {dataset.name}'s {len(dataset.files)} files "
        f"(e.g. {dataset.variable}={dataset.example}) or to a working mirror URL, "
        f"or edit {dataset.mirrors_key} in params.yaml."
    )


def fetch_all(dataset: Dataset, sources: list[str], output_dir: Path, timeout_seconds: float) -> None:
    """Fetch every file; on any failure, remove what this run wrote so nothing half-done stays."""
    if not sources:
        raise ValueError(
            f"No {dataset.name} sources: set {dataset.variable} or list {dataset.mirrors_key} in params.yaml."
        )
    written = []
    try:
        for filename in dataset.files:
            fetch_file(dataset, filename, sources, output_dir, timeout_seconds)
            written.append(output_dir / filename)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
