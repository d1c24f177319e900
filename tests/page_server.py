"""A second local web server: pages for the emulator's reader to read, or a stand-in for a broken service."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# The reference's table: the field each return format fills, with a sample value (a pageshot has `html` beside it;
# search results carry `content: ""` beside the format's own field).
SERVICE_FIELDS = {
    "content": ("content", "# Page\n\nText."),
    "markdown": ("content", "# Page\n\n[Home](/) Text."),
    "html": ("html", "<html><body><p>Text.</p></body></html>"),
    "text": ("text", "Page\nText."),
    "screenshot": ("screenshotUrl", "https://cdn.example/shot.png"),
    "pageshot": ("pageshotUrl", "https://cdn.example/page.png"),
}


@dataclass
class PageServer:
    """A second local server the emulator reads pages from; it can also stand in for a broken Reader."""

    pages: dict[str, tuple[int, str, str | bytes]] = field(default_factory=dict)  # path -> (status, type, body)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 302
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    post_body: str = "{}"  # what any POST gets back, as JSON (a stand-in for a search service)

    def add(
        self, path: str, body: str | bytes, *, status: int = 200, content_type: str = "text/html; charset=utf-8"
    ) -> str:
        self.pages[path] = (status, content_type, body)
        return self.url + path

    def redirect(self, path: str, location: str) -> str:
        self.redirects[path] = location
        return self.url + path


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server_state = PageServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append((self.path, dict(self.headers.items())))
            if self.path in server_state.redirects:
                self.send_response(302)
                self.send_header("Location", server_state.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, content_type, body = server_state.pages.get(self.path, (404, "text/html", "<h1>Not found</h1>"))
            payload = body if isinstance(body, bytes) else body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            server_state.requests.append((self.path, dict(self.headers.items())))
            payload = server_state.post_body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()
    thread.join()
