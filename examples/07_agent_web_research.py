"""Web research with Haystack's Agent: JinaWebSearch and JinaReaderFetcher as tools.

    python examples/07_agent_web_research.py

The agent gets two tools: `web_search` (JinaWebSearch, asked for titles, URLs and descriptions only,
which is cheap) and `read_pages` (JinaReaderFetcher, which reads the pages the agent picks, several at
once). The model decides what to search, which results to read, and answers from what it read.

No LLM is reachable here (no key for one, and the examples run offline), so `ScriptedChatGenerator`
stands in for the model: a tiny component with the chat-generator interface that follows a fixed plan
(search the question, read the two best results, answer with a sentence from each page and its
source). It only uses what the tools returned. With a real chat generator, e.g.
`Agent(chat_generator=OpenAIChatGenerator(model="gpt-4o-mini"), tools=tools, system_prompt=...)`, and
`JINA_API_KEY` set, the agent code below is the same.

Against the emulator, search works over the five-page corpus of `_jina.py`, and the Reader reads those
pages from it; against the hosted API it searches and reads the web.
"""

from __future__ import annotations

import re
import time
from typing import Any

from _jina import jina, shorten
from haystack import Document, component
from haystack.components.agents import Agent
from haystack.dataclasses import ChatMessage, ChatRole, ToolCall
from haystack.tools import ComponentTool

from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.websearch.jina import JinaWebSearch

QUESTION = "What does the Jina Reader API do for language models?"
SYSTEM_PROMPT = (
    "You research questions on the web. Call web_search first, then read_pages with the URLs of the most "
    "promising results, and answer from what you read, citing the URLs."
)
URL = re.compile(r"https?://[^\s)\]]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s")


# ---------------------------------------------------------------------------------------------- what the model sees
def search_results_as_text(documents: list[Document]) -> str:
    """What `web_search` returns to the model: one numbered line per result."""
    lines = [
        f"[{rank}] {doc.meta.get('title', '')} - {doc.meta.get('url', '')}\n    {doc.content or ''}"
        for rank, doc in enumerate(documents, start=1)
    ]
    return "\n".join(lines) or "No results."


def pages_as_text(documents: list[Document]) -> str:
    """What `read_pages` returns to the model: each page under its title and URL, cut to 2000 characters."""
    parts = []
    for doc in documents:
        body = doc.content[:2000] if doc.content is not None else f"(could not be read: {doc.meta.get('error')})"
        parts.append(f"## {doc.meta.get('title', '')} ({doc.meta.get('url', '')})\n{body}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------- the stand-in model
@component
class ScriptedChatGenerator:
    """
    Stands in for an LLM, which is not reachable here: search, read the best results, answer from them.

    It implements the chat-generator interface the Agent expects (`run(messages, tools=...)` returning
    `replies`), and its decisions come only from the conversation: the user's question and the tools' results.
    """

    def __init__(self, pages_to_read: int = 2) -> None:
        self.pages_to_read = pages_to_read

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        tools: Any = None,
        generation_kwargs: dict[str, Any] | None = None,
        streaming_callback: Any = None,
    ) -> dict[str, list[ChatMessage]]:
        question = next(message.text or "" for message in messages if message.is_from(ChatRole.USER))
        results = [message.tool_call_result.result for message in messages if message.tool_call_result is not None]
        if not results:
            search = ToolCall(
                tool_name="web_search",
                arguments={"query": question, "search_params": {"respond_with": "no-content"}},
            )
            return {"replies": [ChatMessage.from_assistant(tool_calls=[search])]}
        if len(results) == 1:
            urls = list(dict.fromkeys(URL.findall(results[0])))[: self.pages_to_read]
            if urls:
                read = ToolCall(tool_name="read_pages", arguments={"urls": urls})
                return {"replies": [ChatMessage.from_assistant(tool_calls=[read])]}
        return {"replies": [ChatMessage.from_assistant(self._answer(question, results[-1]))]}

    @staticmethod
    def _answer(question: str, pages: str) -> str:
        """One sentence from each page that shares the most words with the question, with the page's URL."""
        words = {word for word in re.findall(r"\w+", question.lower()) if len(word) > 3}
        lines = []
        for page in re.split(r"^## ", pages, flags=re.M):
            head, _, body = page.partition("\n")
            url = URL.search(head)
            text = " ".join(line for line in body.splitlines() if not line.startswith("#"))
            sentences = [s.strip() for s in SENTENCE_END.split(text) if s.strip()]
            if url and sentences:
                best = max(sentences, key=lambda s: len(words & set(re.findall(r"\w+", s.lower()))))
                lines.append(f"- {best} ({url.group(0)})")
        return "From the pages I read:\n" + "\n".join(lines) if lines else "I found nothing to answer with."


# ---------------------------------------------------------------------------------------------- the agent
def main() -> None:
    with jina() as api:
        web_search = ComponentTool(
            component=JinaWebSearch(top_k=5, **api.web_search_args()),
            name="web_search",
            description="Search the web. Returns the title, URL and description of the best results.",
            outputs_to_string={"source": "documents", "handler": search_results_as_text},
        )
        read_pages = ComponentTool(
            component=JinaReaderFetcher(max_concurrency=4, raise_on_failure=False, **api.fetcher_args()),
            name="read_pages",
            description="Read web pages. Returns the main content of each page as markdown.",
            outputs_to_string={"source": "documents", "handler": pages_as_text},
        )
        print(
            "tools:",
            ", ".join(f"{tool.name}({', '.join(tool.parameters['properties'])})" for tool in (web_search, read_pages)),
        )

        # The same Agent runs with a real chat generator; only this one line would change.
        agent = Agent(
            chat_generator=ScriptedChatGenerator(), tools=[web_search, read_pages], system_prompt=SYSTEM_PROMPT
        )
        agent.warm_up()

        start = time.perf_counter()
        result = agent.run(messages=[ChatMessage.from_user(QUESTION)])
        seconds = time.perf_counter() - start

        print(f"\nQUESTION {QUESTION!r} ({seconds:.2f} s)")
        calls = []
        for message in result["messages"]:
            for call in message.tool_calls:
                calls.append(call.tool_name)
                print(f"  -> {call.tool_name}({shorten(str(call.arguments), 100)})")
            if message.tool_call_result is not None:
                first = (
                    message.tool_call_result.result.strip().splitlines()[0] if message.tool_call_result.result else ""
                )
                print(f"  <- {shorten(first, 100)}")
        answer = result["messages"][-1].text or ""
        print("\nANSWER\n" + answer)

        assert calls == ["web_search", "read_pages"], calls
        assert answer.startswith("From the pages I read:"), answer
        if api.emulated:  # the emulator's corpus is known: the Reader page is found, read and cited
            assert "(https://example.org/jina-reader)" in answer, answer
            assert "clean markdown" in answer, answer
            assert api.requests_to("/s/") == 1 and api.requests_to("/r/") == 2
        print("\nOK")


if __name__ == "__main__":
    main()
