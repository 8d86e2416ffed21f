"""A plain HTTP file server on 127.0.0.1 that answers range requests, for tests of sources named by http(s) URLs.

    with LocalHTTPServer(folder) as server:
        url = server.url("session.nwb")   # http://127.0.0.1:PORT/session.nwb

It serves the files of one folder: HEAD and GET with ``Content-Length``, an ``ETag`` (size and modification time)
and ``Range: bytes=a-b`` answered with 206 and those bytes only. Standard library only.
"""

from __future__ import annotations

import os
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class _RangeHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def end_headers(self) -> None:
        path = self.translate_path(self.path)
        if os.path.isfile(path):
            stat = os.stat(path)
            self.send_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_GET(self) -> None:
        found = _RANGE.match(self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if found is None or not os.path.isfile(path):
            super().do_GET()
            return
        size = os.path.getsize(path)
        start = int(found.group(1))
        stop = min(int(found.group(2)) if found.group(2) else size - 1, size - 1)
        if start >= size:
            self.send_error(416, "Range Not Satisfiable")
            return
        with open(path, "rb") as handle:
            handle.seek(start)
            body = handle.read(stop - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{stop}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalHTTPServer:
    """Serves ``folder`` on a free port of 127.0.0.1 while in a ``with`` block."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LocalHTTPServer:
        handler = partial(_RangeHandler, directory=self.folder)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def url(self, name: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"
