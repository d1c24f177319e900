"""JinaReaderConverter: converts local files (PDF, HTML, Word, Excel, PowerPoint, text, images) to Documents
with the Jina Reader.

Each file is sent in the body of `POST https://r.jina.ai/` and comes back as markdown (by default), one
Document per file with meta `file_path`, `title` and `num_pages` (for paged files), merged with the
ByteStream's meta and yours. Files are converted several at once, and each is read from disk only
just before its request, so memory holds the files in flight, not the folder.

```python
from haystack_integrations.components.converters.jina import JinaReaderConverter

# JINA_API_KEY must be set
converter = JinaReaderConverter(raise_on_failure=False)
result = converter.run(sources=["report.pdf", "page.html"], meta={"project": "docs"})
print([doc.meta["title"] for doc in result["documents"]], result["meta"]["failed_sources"])
```
"""

import asyncio
import os
from pathlib import Path
from typing import Any

from haystack import Document, component
from haystack.components.converters.utils import normalize_metadata
from haystack.dataclasses import ByteStream
from haystack.utils import Secret

from haystack_integrations.common.jina.client import Answer
from haystack_integrations.common.jina.component_utils import ReaderComponentBase
from haystack_integrations.common.jina.endpoints import HOSTED_READER_URL, check_base_url
from haystack_integrations.common.jina.errors import JinaError, JinaInputError, with_prefix
from haystack_integrations.common.jina.reader import (
    envelope,
    failure_report,
    malformed,
    page_document,
    return_format_of,
    usage_tokens,
)
from haystack_integrations.common.jina.reader_files import FileSource, check_source, request_body

READER_URL = HOSTED_READER_URL


@component
class JinaReaderConverter(ReaderComponentBase):
    """
    Converts local files (PDF, HTML, Word, Excel, PowerPoint, text, images) to Documents with the Jina
    Reader, several at once: one Document per file, in markdown by default, with meta `file_path`, `title`
    and `num_pages` for paged files. `meta` reports the `usage` and any `failed_sources`.
    """

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        *,
        base_url: str = READER_URL,
        max_concurrency: int | None = None,
        raise_on_failure: bool = True,
        timeout: float | None = None,
        max_retries: int | None = None,
        store_full_path: bool = False,
        do_not_track: bool = True,
        markdown_chunking: bool = False,
        return_format: str | None = None,
        target_selector: str | list[str] | None = None,
        remove_selector: str | list[str] | None = None,
        wait_for_selector: str | list[str] | None = None,
        with_links_summary: bool | str = False,
        with_images_summary: bool = False,
        with_generated_alt: bool = False,
        no_cache: bool = False,
        reader_timeout: int | None = None,
        engine: str | None = None,
        token_budget: int | None = None,
        retain_images: str | None = None,
        locale: str | None = None,
        with_iframe: bool | None = None,
        with_shadow_dom: bool | None = None,
        respond_with: str | None = None,
    ) -> None:
        """
        Create a JinaReaderConverter.

        The reader options (`return_format` to `respond_with`) are sent as `X-...` headers; `None` and `False`
        send nothing, so the service's defaults apply.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param base_url: The Reader's root, to which files are posted (`JINA_READER_BASE_URL` replaces the
            default when set), for a proxy or a test server.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more. Unstated, at most 8 at once (each request holds its files in memory).
        :param raise_on_failure: `True` raises the first failure; a source that is missing, of a type the Reader
            does not take, or over its size limit raises before anything is sent. `False` converts the
            rest and lists each failed source in `meta["failed_sources"]` (it gets no Document, as with
            Haystack's converters).
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param store_full_path: `True` keeps a file's full path in meta `file_path`; `False` its name only.
        :param do_not_track: Send `DNT: 1`, which keeps the file out of the Reader's cache. On by default: your
            private files should not be cached by a third party unless you opt in.
        :param markdown_chunking: Ask for the content split at headings (`X-Markdown-Chunking`): one
            Document per chunk, with `source_id` (the id of the whole file's Document) and `split_id` as
            Haystack's `DocumentSplitter` writes them, so `JinaDocumentEmbedder(late_chunking=True)` embeds
            a file's chunks together.
        :param return_format: `X-Return-Format`: `content` (the service's default: markdown of the page's main content,
            readability-filtered), `markdown` (the whole page, unfiltered), `html`, `text`, `screenshot` or `pageshot`.
            For the last two the Document's content is the image URL.
        :param target_selector: `X-Target-Selector`: CSS selector(s) of the part of the page to return.
        :param remove_selector: `X-Remove-Selector`: CSS selector(s) of elements to leave out.
        :param wait_for_selector: `X-Wait-For-Selector`: CSS selector(s) to wait for before reading.
        :param with_links_summary: `X-With-Links-Summary`: `True` adds the page's links to meta `links` (link text to
            URL; for a text that several links share, the last one); `"all"` keeps every link, duplicates included, as
            `[text, url]` pairs.
        :param with_images_summary: `X-With-Images-Summary`: add the page's images to meta `images`.
        :param with_generated_alt: `X-With-Generated-Alt`: caption images that have no alt text.
        :param no_cache: `X-No-Cache`: fetch the page again instead of using the service's cached copy.
        :param reader_timeout: `X-Timeout`: seconds the service may wait for the page to load (1 to 180). Keep the
            component's `timeout` above it.
        :param engine: `X-Engine`: how the service fetches the page: `browser`, `direct` or `cf-browser-rendering`.
        :param token_budget: `X-Token-Budget`: the most tokens the request may cost; larger pages fail.
        :param retain_images: `X-Retain-Images`: which images stay in the content, e.g. `none`.
        :param locale: `X-Locale`: the browser locale the page is read with, e.g. `de-DE`.
        :param with_iframe: `X-With-Iframe`: include the content of iframes.
        :param with_shadow_dom: `X-With-Shadow-Dom`: include the content of shadow DOM.
        :param respond_with: `X-Respond-With`, e.g. `readerlm-v2` (convert with Jina's ReaderLM) or `no-content`
            (search: titles, URLs and descriptions only).
        :raises ValueError: If a reader option, `base_url` or `max_concurrency` is not valid.
        """
        check_base_url(base_url, like=READER_URL)
        self.base_url = base_url
        self.raise_on_failure = raise_on_failure
        self.store_full_path = store_full_path
        self.do_not_track = do_not_track
        self.markdown_chunking = markdown_chunking
        for name, value in (
            ("store_full_path", store_full_path),
            ("do_not_track", do_not_track),
            ("markdown_chunking", markdown_chunking),
        ):
            if not isinstance(value, bool):
                msg = f"{name} must be True or False, got {value!r}"
                raise ValueError(msg)
        more = {
            **({"DNT": "1"} if do_not_track else {}),
            **({"X-Markdown-Chunking": "true"} if markdown_chunking else {}),
        }
        self._keep_reader_options(locals(), more=more)
        # unstated, the key's growing bound applies up to 8: each request carries files, held while in flight
        self._connect(
            api_key, timeout=timeout, max_retries=max_retries, max_concurrency=max_concurrency, unstated_cap=8
        )

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        Convert files to Documents.

        :param sources: File paths or ByteStreams. A file's type comes from the ByteStream's `mime_type`,
            else its name (`file_path` in a ByteStream's meta), else its first bytes.
        :param meta: Meta for every Document: one dict for all, or a list with one dict per source. It is
            merged over the ByteStream's meta, which is merged over what the Reader says (`title`, ...).
        :returns: `documents`: one per converted source, in the order of `sources` (one per chunk with
            `markdown_chunking`); `meta`: `failed_sources` (`{"source", "position", "error", "status"}` for
            each source that failed, with `raise_on_failure=False`) and the `usage` of all conversions.
        :raises TypeError: If `sources` is not a list.
        :raises ValueError: If `meta` is a list of another length than `sources`.
        :raises JinaInputError: With `raise_on_failure=True`, for a missing or empty file, a path that is not a
            regular file (a directory, a FIFO, a `/proc` file), a type the Reader does not take or a size
            over its limit, before anything is sent.
        :raises JinaError: With `raise_on_failure=True`, the first conversion that fails; its message starts
            with the source (`Source 2 (plan.docx): ...`), as every failure's does.
        """
        return self._call(self._run(sources, meta))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        Like `run`, without blocking the event loop.

        :param sources: File paths or ByteStreams.
        :param meta: Meta for every Document, or one dict per source.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._run(sources, meta))

    async def _run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        if not isinstance(sources, list):
            msg = f"JinaReaderConverter expects a list of file paths or ByteStreams, got {type(sources).__name__}"
            raise TypeError(msg)
        metas = normalize_metadata(meta, sources_count=len(sources))
        # nothing is sent while any source is known to fail (or, not raising, it fails in order with the rest)
        outcome = await self._check_then_run_each(
            len(sources), lambda p: check_source(p, sources[p]), lambda p, source: self._convert_one(source, metas[p])
        )
        documents: list[Document] = []
        failed: list[dict[str, Any]] = []
        usage = 0
        for position, source in enumerate(sources):
            if position in outcome.errors:
                error = outcome.errors[position]
                failed.append({"source": _name(position, source), "position": position, **failure_report(error)})
            else:
                converted, tokens = outcome.values[position]
                documents.extend(converted)
                usage += tokens
        return {"documents": documents, "meta": {"failed_sources": failed, "usage": {"tokens": usage}}}

    async def _convert_one(self, source: FileSource, user_meta: dict[str, Any]) -> tuple[list[Document], int]:
        try:
            return await self._convert_source(source, user_meta)
        except JinaInputError:
            raise  # local errors name the source already
        except JinaError as error:  # the service's answer names no file: say which one it was about
            raise with_prefix(error, f"Source {source.position} ({source.name}): ") from None

    async def _convert_source(self, source: FileSource, user_meta: dict[str, Any]) -> tuple[list[Document], int]:
        stream_meta = source.stream.meta if source.stream is not None else {"file_path": str(source.path)}
        # read once the request has its slots, in a thread: only the files in flight are in memory
        url = _source_url(stream_meta)
        body = lambda: asyncio.to_thread(request_body, source, url=url)  # noqa: E731
        headers = self._headers  # made once a request: what is sent is what the answer is read as
        response = await self._client.send("POST", self.base_url, json_body=body, headers=headers)
        data = envelope(response, self.base_url)["data"]
        page = page_document(data, return_format_of(headers), response, self.base_url)
        meta = {**_reader_meta(page.meta), **stream_meta, **user_meta}
        if not self.store_full_path and stream_meta.get("file_path"):
            meta["file_path"] = os.path.basename(str(stream_meta["file_path"]))
        whole = Document(content=page.content, meta=meta)
        tokens = usage_tokens({}, [data])
        if not self.markdown_chunking:
            return [whole], tokens
        return _chunk_documents(whole, data.get("chunks"), response, self.base_url), tokens


def _name(position: int, source: Any) -> str:
    if isinstance(source, ByteStream):
        return str(source.meta.get("file_path") or f"ByteStream {position}")
    return str(source)


def _source_url(stream_meta: dict[str, Any]) -> str | None:
    """The page a ByteStream came from (e.g. `LinkContentFetcher`'s `url`): the base of its relative links."""
    url = stream_meta.get("url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def _reader_meta(reader: dict[str, Any]) -> dict[str, Any]:
    """What the Reader says about a file, as Document meta: `title`, `description`, `num_pages`, summaries."""
    meta: dict[str, Any] = {"title": reader.get("title") if isinstance(reader.get("title"), str) else ""}
    if isinstance(reader.get("description"), str) and reader["description"]:
        meta["description"] = reader["description"]
    pages = reader.get("numPages")
    if isinstance(pages, int) and not isinstance(pages, bool):
        meta["num_pages"] = pages
    for extra in ("links", "images", "warning"):
        if extra in reader:
            meta[extra] = reader[extra]
    return meta


def _chunk_documents(whole: Document, chunks: Any, response: Answer, url: str) -> list[Document]:
    """
    One Document per heading chunk, with `source_id` / `split_id` / `split_idx_start` as `DocumentSplitter`
    writes them. An answer without `chunks` (a file without headings, say) is one chunk.
    """
    if chunks is None:
        chunks = [whole.content or ""]
    if not isinstance(chunks, list):
        raise malformed(response, url, f"'chunks' should be a list, got {type(chunks).__name__}")
    documents = []
    content = whole.content or ""
    offset = 0
    for split_id, chunk in enumerate(chunks):
        # The reference says only "split at headings"; a chunk is taken as a string, or an object with its text.
        text = chunk.get("content", chunk.get("text")) if isinstance(chunk, dict) else chunk
        if not isinstance(text, str):
            raise malformed(response, url, f"chunk {split_id} has no text")
        found = content.find(text, offset)
        start = found if found >= 0 else None
        if found >= 0:
            offset = found + len(text)
        meta = {**whole.meta, "source_id": whole.id, "split_id": split_id, "split_idx_start": start}
        documents.append(Document(content=text, meta=meta))
    return documents
