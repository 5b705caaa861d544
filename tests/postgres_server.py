"""A real PostgreSQL server for the tests (Debian's `postgresql`, which .ci/run installs): a fresh
cluster in a temporary directory, listening on a free port of 127.0.0.1 only, stopped and removed
on exit even when the test fails."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.loopback_s3 import free_port

USER = "optuna"  # the cluster's superuser, with trust authentication on loopback: no password to leak


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin/ (Debian keeps initdb and pg_ctl off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a new database on a new server; PostgreSQL refuses to run as root, so as
    root the server runs as the `postgres` user the Debian package created."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (as .ci/run does)")
    as_server_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's temporary directory, which only its owner may enter.
    directory = Path(tempfile.mkdtemp(prefix="mnist-zoo-postgres-"))
    directory.chmod(0o755)
    if as_server_user:
        shutil.chown(directory, "postgres")
    data, port = directory / "data", free_port()

    def run(*command: object) -> None:
        subprocess.run([*as_server_user, *map(str, command)], check=True, capture_output=True, text=True)

    started = False
    try:
        run(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", USER, "--no-sync")
        settings = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(bin_dir / "pg_ctl", "-D", data, "-l", directory / "server.log", "-w", "-t", "60", "-o", settings, "start")
        started = True
        run(bin_dir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", USER, "optuna")
        yield f"postgresql://{USER}@127.0.0.1:{port}/optuna"
    finally:
        if started:
            subprocess.run(
                [*as_server_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
            )
        shutil.rmtree(directory, ignore_errors=True)
