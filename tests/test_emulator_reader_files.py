"""The emulator's `POST /r/`: JSON with base64 and multipart uploads, PDF pages, what it refuses."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.documents import text_pdf

PDF = text_pdf(["First page text", "Second page text", "Third page"], title="Three pages")


def post(emulator: JinaEmulator, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {emulator.api_key}", "Accept": "application/json", **kwargs.pop("headers", {})}
    return requests.post(emulator.reader_url, headers=headers, timeout=10, **kwargs)


@pytest.mark.parametrize("how", ["json", "multipart"])
def test_pdf_as_base64_json_or_multipart_upload(emulator: JinaEmulator, how: str) -> None:
    if how == "json":
        answer = post(emulator, json={"pdf": base64.b64encode(PDF).decode(), "url": "https://a.example/x.pdf#2"})
    else:
        answer = post(
            emulator, files={"pdf": ("x.pdf", PDF, "application/pdf")}, data={"url": "https://a.example/x.pdf#2"}
        )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["content"] == "Second page text"  # url#N selects page N
    assert data["numPages"] == 3 and data["title"] == "Three pages"
    assert emulator.requests[-1].method == "POST"


def test_multipart_html_and_file_with_a_name(emulator: JinaEmulator) -> None:
    answer = post(
        emulator,
        files={
            "html": (
                "p.html",
                b"<html><head><title>T</title></head><body><h1>Hi</h1><p>There.</p></body></html>",
                "text/html",
            )
        },
    )
    assert answer.json()["data"]["content"] == "# Hi\n\nThere."
    answer = post(emulator, files={"file": ("notes.txt", b"plain notes", "text/plain")})
    assert answer.json()["data"]["content"] == "plain notes"


def test_chunking_and_text_answers(emulator: JinaEmulator) -> None:
    html = "<p>Intro.</p><h1>One</h1><p>a</p><h2>Two</h2><p>b</p>"
    data = post(emulator, json={"html": html}, headers={"X-Markdown-Chunking": "true"}).json()["data"]
    assert data["chunks"] == ["Intro.", "# One\n\na", "## Two\n\nb"]
    text = post(emulator, json={"html": html}, headers={"Accept": "text/plain"}).text
    assert "Markdown Content:\nIntro." in text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"pdf": "not base64!"}, 422, "not valid base64"),
        ({"pdf": base64.b64encode(b"%PDF-1.4 broken").decode()}, 422, "cannot be opened"),
        ({"file": base64.b64encode(b"PK\x03\x04docx").decode()}, 422, "does not convert Word, Excel or PowerPoint"),
        ({"file": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()}, 422, "does not caption images"),
        ({"html": "<p>a</p>", "pdf": "JVBERg=="}, 422, "one document per request"),
        ({}, 422, "No document"),
        ({"pdf": base64.b64encode(PDF).decode(), "url": "https://a.example/x.pdf#9"}, 422, "has 3 pages"),
        ({"html": 3}, 422, "html must be a string"),
    ],
)
def test_what_the_emulator_refuses(emulator: JinaEmulator, body: dict[str, Any], status: int, message: str) -> None:
    answer = post(emulator, json=body)
    assert answer.status_code == status and message in answer.json()["detail"]


def test_a_url_alone_is_read(emulator: JinaEmulator, pages: Any) -> None:
    url = pages.add("/p", "<title>Posted</title><p>Read by POST.</p>")
    assert post(emulator, json={"url": url}).json()["data"]["title"] == "Posted"


def test_post_below_the_root_is_not_found(emulator: JinaEmulator) -> None:
    assert requests.post(emulator.reader_url + "x", json={"html": "<p>a</p>"}, timeout=10).status_code == 404
