"""fetch: mirrors tried in order over real HTTP on 127.0.0.1; only verified files ever land."""

import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from mnist_zoo.data import download as fetch
from tests.conftest import write_mnist_gz


@pytest.fixture
def synthetic_checksums(tmp_path: Path) -> dict[str, bytes]:
    """Synthetic files under MNIST's names (SYNTHETIC holds their checksums)."""
    return write_mnist_gz(tmp_path / "good")


def synthetic_dataset(payloads: dict[str, bytes]) -> fetch.Dataset:
    """MNIST's record with the synthetic files' checksums in place of the real ones."""
    files = {name: hashlib.sha256(gzip.decompress(payload)).hexdigest() for name, payload in payloads.items()}
    return fetch.MNIST._replace(files=files)


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `routes[path] = (status, body, declared_length)`; anything else is a 404."""

    routes: dict[str, tuple[int, bytes, int]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        status, body, declared_length = self.routes.get(self.path, (404, b"not found", 9))
        self.send_response(status)
        self.send_header("Content-Length", str(declared_length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> str:
    Handler.routes = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def dead_url() -> str:
    """A localhost URL nothing listens on."""
    probe = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    port = probe.server_port
    probe.server_close()
    return f"http://127.0.0.1:{port}"


def serve(prefix: str, payloads: dict[str, bytes]) -> None:
    for name, payload in payloads.items():
        Handler.routes[f"/{prefix}/{name}"] = (200, payload, len(payload))


def test_download_falls_back_past_dead_mirror(synthetic_checksums, server, tmp_path):
    serve("good", synthetic_checksums)
    output = tmp_path / "raw"
    fetch.fetch_all(synthetic_dataset(synthetic_checksums), [dead_url(), f"{server}/good/"], output, timeout_seconds=5)
    for name, payload in synthetic_checksums.items():
        assert (output / name).read_bytes() == payload


def test_every_bad_mirror_is_reported_and_nothing_is_written(synthetic_checksums, server, tmp_path):
    name = "train-images-idx3-ubyte.gz"
    good = synthetic_checksums[name]
    wrong_content = gzip.compress(b"definitely not MNIST")
    Handler.routes.update(
        {
            f"/missing/{name}": (404, b"not found", 9),
            f"/truncated/{name}": (200, good[: len(good) // 2], len(good)),
            f"/notgzip/{name}": (200, b"<html>hello</html>", 18),
            f"/wrong/{name}": (200, wrong_content, len(wrong_content)),
            f"/cut_gzip/{name}": (200, good[: len(good) // 2], len(good) // 2),
        }
    )
    mirrors = [dead_url()] + [f"{server}/{kind}/" for kind in ("missing", "truncated", "notgzip", "wrong", "cut_gzip")]
    output = tmp_path / "raw"
    with pytest.raises(fetch.FetchError) as error:
        fetch.fetch_all(synthetic_dataset(synthetic_checksums), mirrors, output, timeout_seconds=5)
    message = str(error.value)
    assert name in message
    for reason in (
        "unreachable",
        "HTTP 404",
        "truncated: got",
        "not gzip",
        "checksum mismatch",
        "truncated gzip stream",
    ):
        assert reason in message
    assert "MNIST_MIRROR" in message  # says how to fix it
    assert not output.exists() or not any(output.iterdir())


def test_failure_on_a_later_file_removes_the_earlier_verified_ones(synthetic_checksums, server, tmp_path):
    partial = dict(synthetic_checksums)
    del partial["t10k-labels-idx1-ubyte.gz"]  # the last file fetched
    serve("partial", partial)
    output = tmp_path / "raw"
    with pytest.raises(fetch.FetchError, match="t10k-labels-idx1-ubyte.gz"):
        fetch.fetch_all(synthetic_dataset(synthetic_checksums), [f"{server}/partial/"], output, timeout_seconds=5)
    assert not any(output.iterdir())


def test_local_directory_mirror_and_source_order(synthetic_checksums, tmp_path):
    assert fetch.list_sources(["https://a/", "https://b/"], str(tmp_path)) == [
        str(tmp_path),
        "https://a/",
        "https://b/",
    ]
    assert fetch.list_sources(["https://a/"], None) == ["https://a/"]
    fetch.fetch_all(
        synthetic_dataset(synthetic_checksums), [str(tmp_path / "nowhere"), str(tmp_path / "good")], tmp_path / "raw", 5
    )
    assert sorted(path.name for path in (tmp_path / "raw").iterdir()) == sorted(synthetic_checksums)


def test_recompressed_file_passes_because_the_checksum_is_of_the_content(synthetic_checksums):
    name = "train-labels-idx1-ubyte.gz"
    recompressed = gzip.compress(gzip.decompress(synthetic_checksums[name]), compresslevel=1, mtime=123)
    assert recompressed != synthetic_checksums[name]
    fetch.verify(synthetic_dataset(synthetic_checksums), name, recompressed)


def test_a_missing_fashion_mnist_copy_offline_names_its_variable_and_writes_nothing(tmp_path):
    """The "not a digit" images: with no copy where $FASHION_MNIST_MIRROR points and no network,
    the error names that variable and params.yaml's key, and nothing is left behind."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(fetch.FetchError) as error:
        fetch.fetch_all(fetch.FASHION_MNIST, [str(empty), dead_url()], tmp_path / "fashion", timeout_seconds=5)
    assert "set FASHION_MNIST_MIRROR to a directory holding Fashion-MNIST's 2 files" in str(error.value)
    assert "data.fashion_mirrors" in str(error.value)
    assert not (tmp_path / "fashion").exists() or not any((tmp_path / "fashion").iterdir())


FASHION_MNIST_MIRROR = os.environ.get("FASHION_MNIST_MIRROR")


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_MNIST_MIRROR, reason="set FASHION_MNIST_MIRROR to a directory with its two test files")
def test_the_fashion_mnist_copy_verifies(tmp_path):
    fetch.fetch_all(fetch.FASHION_MNIST, [FASHION_MNIST_MIRROR], tmp_path / "fashion", timeout_seconds=5)
    assert sorted(path.name for path in (tmp_path / "fashion").iterdir()) == sorted(fetch.FASHION_MNIST.files)
