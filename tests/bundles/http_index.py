"""A real HTTP server on 127.0.0.1 (port 0) serving a bundle index directory, with Range
support and, on request, connections cut after N bytes (an interrupted download)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass
class Served:
    path: str
    range: str | None
    status: int
    sent: int


@dataclass
class IndexServer:
    root: Path
    url: str = ""
    cuts: dict[str, list[int]] = field(default_factory=dict)  # URL path -> bytes per answer
    log: list[Served] = field(default_factory=list)

    def requests(self, path: str) -> list[Served]:
        return [s for s in self.log if s.path == path]


def _handler(server: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # stdlib name
            pass

        def do_GET(self) -> None:  # noqa: N802  # the stdlib's method name
            file = server.root / self.path.lstrip("/")
            if not file.is_file() or ".." in self.path:
                self.send_error(404)
                server.log.append(Served(self.path, None, 404, 0))
                return
            data = file.read_bytes()
            wanted = self.headers.get("Range")
            start, status = 0, 200
            if wanted:
                m = _RANGE.match(wanted)
                if m is None or int(m[1]) >= len(data):
                    self.send_error(416)
                    server.log.append(Served(self.path, wanted, 416, 0))
                    return
                start, status = int(m[1]), 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            cuts = server.cuts.get(self.path)
            if cuts:
                body = body[: cuts.pop(0)]
            self.wfile.write(body)
            self.wfile.flush()
            if len(body) < len(data) - start:  # an interrupted answer: drop the connection
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            server.log.append(Served(self.path, wanted, status, len(body)))

    return Handler


@contextmanager
def serve(root: Path) -> Iterator[IndexServer]:
    state = IndexServer(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
