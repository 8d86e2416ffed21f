"""A real S3-compatible HTTP server on 127.0.0.1 (moto's), with a count of the requests it served.

Used by the test suite and by ``benchmarks/run.py``: nothing is mocked inside the client, requests
go over HTTP to a server bound to the loopback address on a free port. Needs ``moto[server]``.

    with LocalS3Server() as server:
        server.create_bucket("data")
        options = server.storage_options()          # for fsspec / s3fs
        url = server.url("data", "session.nwb.zarr")  # s3://data/session.nwb.zarr
        server.requests.reset(); ...; server.requests.total
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass
class RequestLog:
    """Thread-safe tally of the requests a server answered, by HTTP method."""

    by_method: Counter = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)  # "METHOD /path?query", in arrival order
    body_bytes: Counter = field(default_factory=Counter)  # response body bytes sent, by "/bucket/key" path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, target: str) -> None:
        with self.lock:
            self.by_method[method] += 1
            self.lines.append(f"{method} {target}")

    def add_bytes(self, path: str, count: int) -> None:
        with self.lock:
            self.body_bytes[path] += count

    def reset(self) -> None:
        with self.lock:
            self.by_method.clear()
            self.lines.clear()
            self.body_bytes.clear()

    def bytes_sent(self, path_prefix: str = "") -> int:
        """Response body bytes sent for paths starting with ``path_prefix`` (e.g. "/bucket/file.nwb")."""
        with self.lock:
            return sum(n for path, n in self.body_bytes.items() if path.startswith(path_prefix))

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.by_method.values())

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.by_method)


class _Counting:
    """WSGI middleware: count every request, then hand it to the wrapped app."""

    def __init__(self, app: Any, log: RequestLog) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING")
        target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        self.log.add(environ.get("REQUEST_METHOD", "?"), target)
        path = environ.get("PATH_INFO", "")
        for chunk in self.app(environ, start_response):
            self.log.add_bytes(path, len(chunk))
            yield chunk


class _ThreadedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512  # many concurrent connections: the default backlog of 5 drops some


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # answers "Expect: 100-continue", which botocore sends with uploads

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:
        pass


class LocalS3Server:
    """moto's S3 server in a background thread of this process, on 127.0.0.1 and a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("LocalS3Server only binds loopback addresses")
        self.host = host
        self.port = port
        self.requests = RequestLog()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalS3Server:
        try:
            from moto.moto_server.werkzeug_app import create_backend_app
        except ImportError as err:
            raise ImportError("LocalS3Server needs moto's server: pip install 'moto[server]'") from err
        # moto's S3 app itself, not its host dispatcher (which scans moto's package folder on every
        # request), served by wsgiref: werkzeug's development server waits 10 ms after every request
        app = _Counting(create_backend_app("s3"), self.requests)
        self._server = make_server(self.host, self.port, app, _ThreadedServer, _QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-s3", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ client settings
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, bucket: str, key: str = "") -> str:
        return f"s3://{bucket}/{key}".rstrip("/")

    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options that talk to this server only."""
        return {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
        }

    def obstore(self, bucket: str, prefix: str = "") -> Any:
        """An ``obstore.store.S3Store`` on ``bucket``/``prefix`` of this server."""
        from obstore.store import S3Store

        return S3Store(
            bucket,
            prefix=prefix or None,
            endpoint=self.endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region=REGION,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` (a plain HTTP PUT; the server checks no signatures)."""
        import urllib.request

        credential = f"Credential={ACCESS_KEY}/20240101/{REGION}/s3/aws4_request"
        headers = {"Authorization": f"AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, Signature=0"}
        request = urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT", data=b"", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def make_public(self, bucket: str) -> None:
        """Let anyone read ``bucket``'s objects with plain HTTP GETs (``http://host:port/bucket/key``)."""
        import json

        import s3fs

        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:HeadObject"],
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **self.storage_options())
        fs.call_s3("put_bucket_policy", Bucket=bucket, Policy=json.dumps(policy))
