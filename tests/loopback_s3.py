"""A real S3 endpoint on 127.0.0.1 for the remote tests: moto's standalone server in a subprocess,
with IAM authentication on (so wrong credentials are refused), and a relay in front of it that a
test can cut part-way through a transfer and bring back, as an endpoint that goes down would."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# The server checks signatures only after this many unauthenticated calls: exactly the set-up
# below (create a user, give it S3 rights, create its access key, create the bucket).
SETUP_CALLS = 4
BUCKET = "mnist-zoo"
REGION = "us-east-1"
START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"moto_server did not listen on 127.0.0.1:{port} within {timeout} s")


class Relay:
    """Forwards TCP connections from its own port to the server's. `stop()` closes the listener
    and every open connection (clients see the endpoint vanish mid-transfer); `start()` listens on
    the same port again. With `cut_after_bytes`, it stops itself once that many bytes have passed
    in either direction: a deterministic "server died part-way"."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self.cut_after_bytes: int | None = None
        self.bytes_relayed = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener, self.bytes_relayed = listener, 0
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        for sock in ([listener] if listener else []) + list(sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @property
    def running(self) -> bool:
        return self._listener is not None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close(), upstream.close()
                    return
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                with self._lock:
                    self.bytes_relayed += len(chunk)
                    over = self.cut_after_bytes is not None and self.bytes_relayed >= self.cut_after_bytes
                if over:
                    self.stop()
                    return
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class S3Server:
    """moto's server on a free loopback port, one bucket, one IAM user whose keys `environment()`
    hands to DVC; clients talk to it through `relay`."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log = open(log_path, "wb")
        moto_server = str(Path(sys.executable).with_name("moto_server"))
        self.process = subprocess.Popen(
            [moto_server, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS)),
        )
        try:
            wait_for_port(self.port, self.process, START_TIMEOUT_SECONDS)
            self.access_key_id, self.secret_access_key = self._create_user_and_bucket()
        except BaseException:
            self.close()
            raise
        self.relay = Relay(self.port)
        self.relay.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.relay.port}"

    def _create_user_and_bucket(self) -> tuple[str, str]:
        import boto3

        direct = {
            "endpoint_url": f"http://127.0.0.1:{self.port}",
            "region_name": REGION,
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        iam = boto3.client("iam", **direct)
        iam.create_user(UserName="dvc")
        iam.put_user_policy(
            UserName="dvc",
            PolicyName="s3",
            PolicyDocument=(
                '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
            ),
        )
        key = iam.create_access_key(UserName="dvc")["AccessKey"]
        boto3.client("s3", **direct).create_bucket(Bucket=BUCKET)
        return key["AccessKeyId"], key["SecretAccessKey"]

    def environment(self, access_key_id: str | None = None, secret_access_key: str | None = None) -> dict[str, str]:
        """Credentials as a CI job gets them from its secrets (never written to a config file)."""
        return {
            "AWS_ACCESS_KEY_ID": access_key_id or self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_access_key or self.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
        }

    def object_count(self) -> int:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )
        return sum(page.get("KeyCount", 0) for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET))

    def close(self) -> None:
        if getattr(self, "relay", None):
            self.relay.stop()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@contextlib.contextmanager
def s3_server(log_path: Path) -> Iterator[S3Server]:
    server = S3Server(log_path)
    try:
        yield server
    finally:
        server.close()
