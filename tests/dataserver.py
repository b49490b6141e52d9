"""A real HTTP server on 127.0.0.1, in a thread, serving a test's files: what remote inputs are read from in the
tests (never the internet). It counts requests, and has paths that misbehave on purpose:

- ``/stall/<name>``: the headers, then nothing until the server stops
- ``/huge/<n>``: a Content-Length of n bytes, and no body
- ``/unsized/<n>``: n bytes with no Content-Length (the body ends when the connection closes)
- ``/slow/<name>``: the file in ten pieces, ``slow_seconds`` apart
- any missing file: 404
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class DataServer:
    def __init__(self, folder: Path, *, etags: bool = False, last_modified: bool = True) -> None:
        self.folder = Path(folder)
        self.etags = etags
        self.last_modified = last_modified
        self.slow_seconds = 0.1
        self.requests: Counter[tuple[str, str]] = Counter()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, self, directory=str(folder)))
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="data-server", daemon=True
        )

    def __enter__(self) -> DataServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path.lstrip('/')}"

    def count(self, method: str, path: str) -> int:
        return self.requests[(method, "/" + path.lstrip("/"))]


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, server: DataServer, *args, **kwargs) -> None:
        self.data = server
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: object) -> None:
        return None  # the tests read the counts, not a log

    def do_HEAD(self) -> None:
        self._count("HEAD")
        super().do_HEAD()

    def do_GET(self) -> None:
        self._count("GET")
        kind, _, rest = self.path.lstrip("/").partition("/")
        if kind == "stall":
            self._headers(len((self.data.folder / rest).read_bytes()))
            self.data.stopping.wait(30)
        elif kind == "huge":
            self._headers(int(rest))
        elif kind == "unsized":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"x" * int(rest))
            self.close_connection = True
        elif kind == "slow":
            body = (self.data.folder / rest).read_bytes()
            self._headers(len(body))
            step = max(1, len(body) // 10)
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                self.wfile.flush()
                time.sleep(self.data.slow_seconds)
        else:
            super().do_GET()

    def _count(self, method: str) -> None:
        with self.data.lock:
            self.data.requests[(method, self.path)] += 1

    def _headers(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def send_header(self, keyword: str, value: str) -> None:
        if keyword == "Last-Modified":
            if self.data.etags:
                content = Path(self.translate_path(self.path)).read_bytes()
                super().send_header("ETag", f'"{hashlib.sha256(content).hexdigest()[:16]}"')
            if not self.data.last_modified:
                return
        super().send_header(keyword, value)
