"""Shared by the examples: which Jina API they talk to.

By default the examples start the bundled `JinaEmulator` (a local test double that speaks the Jina wire
format), whatever is exported: they set `JINA_API_KEY`, `JINA_API_BASE_URL`, `JINA_READER_BASE_URL` and
`JINA_SEARCH_BASE_URL` to the emulator's for their own run (and restore them after), so the components
keep their default URLs and read key and endpoints from the environment exactly as in production. No
credits are spent by accident.

With `--live` (or `JINA_EXAMPLES_LIVE=1`, which `run_all.py --live` sets) they call the hosted Jina API
with your `JINA_API_KEY`, and any `JINA_*_BASE_URL` you exported (a proxy, the EU endpoints) applies.

    with jina() as api:
        embedder = JinaTextEmbedder(**api.embedder_args())
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from haystack_integrations.testing.jina import JinaEmulator

EMULATOR_NOTICE = (
    "Running against the local JinaEmulator (the default; --live calls the hosted API): a test double, "
    "results are not from Jina's models."
)
HOSTED_NOTICE = "Running against the hosted Jina API (--live): this spends credits of your JINA_API_KEY."
LIVE_ENV = "JINA_EXAMPLES_LIVE"

# What the emulator's search and ground endpoints work over (the hosted API searches the web instead).
# The emulator reads these URLs from here too, so search results can be read offline.
CORPUS = [
    {
        "url": "https://example.org/eiffel-tower",
        "title": "Eiffel Tower",
        "content": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was built for the "
        "1889 World's Fair and is 330 metres tall.",
    },
    {
        "url": "https://example.org/late-chunking",
        "title": "Late chunking for long-context embedding models",
        "content": "Late chunking embeds a whole document with a long-context embedding model first and "
        "splits it into chunks afterwards, so every chunk embedding keeps the context of its document.",
    },
    {
        "url": "https://example.org/jina-reader",
        "title": "Jina Reader API",
        "content": "The Jina Reader API turns any web page into clean markdown for language models. "
        "It can also search the web and ground a statement against web sources.",
    },
    {
        "url": "https://example.org/haystack",
        "title": "Haystack",
        "content": "Haystack is an open-source framework for building retrieval pipelines, RAG and agents "
        "with large language models.",
    },
    {
        "url": "https://example.org/honey-bees",
        "title": "Honey bees",
        "content": "Honey bees make honey from the nectar of flowers and store it in wax combs.",
    },
]

# The page the read example reads from a local web server when it runs against the emulator.
PAGE = """<!doctype html>
<html><head>
  <title>Late chunking in practice</title>
  <meta name="description" content="Why chunk embeddings should know their document.">
</head><body>
  <nav><a href="/">Home</a> | <a href="/blog">Blog</a></nav>
  <article>
    <h1>Late chunking in practice</h1>
    <p>Splitting a document into chunks before embedding loses context: a chunk that says
    <em>its population is 3.85 million</em> no longer knows which city it talks about.</p>
    <p><strong>Late chunking</strong> embeds the whole document first and pools the token
    embeddings per chunk afterwards. See the <a href="https://jina.ai/news/late-chunking">Jina blog</a>
    and the <a href="/paper.pdf">paper</a>.</p>
    <img src="/figures/late-chunking.png" alt="Naive chunking versus late chunking">
    <ul><li>Same number of vectors</li><li>No extra model calls</li><li>Better retrieval of short chunks</li></ul>
  </article>
  <footer>Example page served by examples/_jina.py</footer>
</body></html>
"""

HOSTED_PAGE_URL = "https://example.com/"


@dataclass
class JinaApi:
    """The API the examples talk to, and the arguments that point components at it."""

    emulator: JinaEmulator | None = None
    page_url: str = HOSTED_PAGE_URL
    started: float = field(default_factory=time.perf_counter)

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    def embedder_args(self) -> dict[str, Any]:
        """Keyword arguments for the text, document and image embedders: none, JINA_API_BASE_URL routes them."""
        return {}

    def ranker_args(self) -> dict[str, Any]:
        return {}

    def reader_args(self, mode: str) -> dict[str, Any]:
        """None for read and search (JINA_READER_BASE_URL, JINA_SEARCH_BASE_URL); ground has no variable."""
        if self.emulator is None or mode != "ground":
            return {}
        return {"base_url": self.emulator.ground_url}

    def web_search_args(self) -> dict[str, Any]:
        """Keyword arguments for `JinaWebSearch` (empty: the hosted default)."""
        return {"base_url": self.emulator.search_url} if self.emulator else {}

    def fetcher_args(self) -> dict[str, Any]:
        """Keyword arguments for `JinaReaderFetcher` (empty: the hosted default)."""
        return {"base_url": self.emulator.reader_url} if self.emulator else {}

    def requests_to(self, path: str) -> int | None:
        """How many requests went to `path` (e.g. `/v1/embeddings`); `None` against the hosted API."""
        return None if self.emulator is None else len(self.emulator.requests_to(path))


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in ("/", "/late-chunking.html"):
            self.send_error(404)
            return
        body = PAGE.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the examples' output readable


@contextmanager
def _page_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, name="example-page-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/late-chunking.html"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def live_requested() -> bool:
    return "--live" in sys.argv[1:] or os.environ.get(LIVE_ENV, "").lower() in ("1", "true", "yes")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set `values` in os.environ for the duration, then restore what was there (or was not)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def jina(*, latency: float = 0.0, serve_page: bool = False, limits: str | None = None) -> Iterator[JinaApi]:
    """
    A running `JinaEmulator`, or the hosted Jina API when asked with `--live`. Prints which, first.

    :param latency: Seconds the emulator waits per request, to make timings look like a network's.
        Ignored against the hosted API.
    :param serve_page: Serve `PAGE` from a local web server for the emulator's read endpoint.
        Against the hosted API, `page_url` is a public page instead.
    :param limits: The key's rate limits the emulator enforces across every process that sends it
        (`"free"`, `"tier1"`, `"tier2"` or `"rpm=..,tpm=..,concurrency=.."`). Ignored against the hosted API.
    """
    if live_requested():
        if not os.environ.get("JINA_API_KEY"):
            sys.exit("--live calls the hosted Jina API: export JINA_API_KEY first (get one at https://jina.ai).")
        print(HOSTED_NOTICE, flush=True)
        yield JinaApi()
        return

    print(EMULATOR_NOTICE, flush=True)
    with ExitStack() as stack:
        emulator = stack.enter_context(JinaEmulator(latency=latency, corpus=CORPUS, limits=limits))
        log = os.environ.get(REQUEST_LOG_VARIABLE)
        if log:  # the test suite checks these bodies against Jina's spec
            stack.callback(_write_request_log, emulator, log)
        page_url = stack.enter_context(_page_server()) if serve_page else HOSTED_PAGE_URL
        stack.enter_context(_environment(emulator.environment()))
        yield JinaApi(emulator=emulator, page_url=page_url)


#: When set (by the test suite), the emulator's requests are written to this file as JSON lines at exit.
REQUEST_LOG_VARIABLE = "JINA_EXAMPLES_REQUEST_LOG"


def _write_request_log(emulator: JinaEmulator, path: str) -> None:
    with open(path, "w", encoding="utf-8") as log:
        for request in emulator.requests:
            log.write(json.dumps({"path": request.path, "body": request.body.decode("utf-8", "replace")}) + "\n")


def shorten(text: str | None, width: int = 70) -> str:
    """One line of at most `width` characters."""
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 3] + "..."
