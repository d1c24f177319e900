"""The Jina Reader API with JinaReaderConnector: read a web page, search the web, ground a statement.

    python examples/04_reader.py

Ground mode is deprecated (gone from Jina's documentation since 2025-04): it warns, and it is shown
here because existing pipelines use it. For web search prefer `JinaWebSearch` (example 07).

Against the emulator, `read` fetches a page from a small local web server, and `search` and `ground`
work over a five-page corpus (see `_jina.py`); against the hosted API they read example.com and
search the web.
"""

from __future__ import annotations

import time
import warnings

from _jina import jina, shorten

from haystack_integrations.components.connectors.jina import JinaReaderConnector

SEARCH_QUERY = "late chunking long-context embedding models"
STATEMENTS = ["The Eiffel Tower is in Paris.", "The Eiffel Tower is not in Paris."]


def main() -> None:
    with jina(serve_page=True) as api:
        # read: one Document with the page as markdown; title, description, url, links in meta
        reader = JinaReaderConnector(mode="read", with_links_summary=True, **api.reader_args("read"))
        start = time.perf_counter()
        page = reader.run(query=api.page_url)["documents"][0]
        print(f"READ {api.page_url} ({time.perf_counter() - start:.2f} s)")
        print(f"  title: {page.meta.get('title')!r}, {len(page.content or '')} characters of markdown")
        for line in [line for line in (page.content or "").splitlines() if line.strip()][:4]:
            print(f"  | {shorten(line, 100)}")
        links = page.meta.get("links") or {}
        print(
            f"  links: {len(links)}, e.g. " + ", ".join(f"{text!r} -> {url}" for text, url in list(links.items())[:2])
        )
        assert page.content and page.meta.get("title"), "the page should have a title and content"

        # the same page as plain text without navigation and footer (reader options travel as request headers)
        text = JinaReaderConnector(
            mode="read", remove_selector=["nav", "footer"], return_format="text", **api.reader_args("read")
        ).run(query=api.page_url)["documents"][0]
        print(f"  as text, without <nav> and <footer>: {shorten(text.content, 80)!r}")

        # search: one Document per result, best first
        searcher = JinaReaderConnector(mode="search", **api.reader_args("search"))
        start = time.perf_counter()
        results = searcher.run(query=SEARCH_QUERY)["documents"]
        print(f"\nSEARCH {SEARCH_QUERY!r}: {len(results)} results ({time.perf_counter() - start:.2f} s)")
        for rank, doc in enumerate(results, start=1):
            print(f"  {rank}. {shorten(doc.meta.get('title'), 50):<50} {doc.meta.get('url')}")
        assert results, "the search should find something"

        # ground (deprecated: gone from Jina's documentation since 2025-04, kept for compatibility): one Document
        # whose content is the reason; factuality, result and references in meta
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            grounder = JinaReaderConnector(mode="ground", **api.reader_args("ground"))
        print(f"\n(ground mode warns: {shorten(str(caught[0].message), 100)})")
        verdicts = []
        for statement in STATEMENTS:
            start = time.perf_counter()
            verdict = grounder.run(query=statement)["documents"][0]
            verdicts.append(verdict.meta.get("result"))
            print(
                f"\nGROUND {statement!r} ({time.perf_counter() - start:.2f} s)\n"
                f"  result: {verdict.meta.get('result')}, factuality: {verdict.meta.get('factuality')}\n"
                f"  reason: {shorten(verdict.content, 110)}"
            )
            for reference in (verdict.meta.get("references") or [])[:2]:
                support = "supports" if reference.get("isSupportive") else "contradicts"
                print(f"  {support}: {reference.get('url')}: {shorten(reference.get('keyQuote'), 70)!r}")
            assert "factuality" in verdict.meta and "result" in verdict.meta
        if api.emulated:  # the emulator's verdicts follow its corpus; the hosted API's are the model's
            assert verdicts == [True, False], verdicts
        print("\nOK")


if __name__ == "__main__":
    main()
