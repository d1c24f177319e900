"""Index a corpus with Ray: Ray Data `map_batches` over an actor pool of JinaDocumentEmbedder, one key for all.

    python examples/13_ray_shared_key.py                 # 4 actors, 1,000 documents, a Free-tier key
    python examples/13_ray_shared_key.py --actors 8 --docs 5000

Every actor is its own process with its own embedder, and they all send the same key: the key's limits
(here the Free tier's 5 concurrent requests, enforced by the emulator across all of them) are shared.
Nothing is coordinated between the actors: each paces itself from the key's answers, and a refusal
caused by another actor is flow control, not a failure (see the README's "Many processes, one key").
With a paid key, put `JINA_RATE_LIMITS=tier1` in the actors' environment (`runtime_env` below): it is
the key's total, not each actor's.

The embedded rows come back to the driver, which writes them to an InMemoryDocumentStore and runs a
query against it. Needs `ray[data]` (the examples environment has it); exits 77 without it.
"""

# No `from __future__ import annotations`: Haystack 2.20 cannot resolve a component's string socket types.
import argparse
import os
import sys
import time
from typing import Any

try:
    import ray
except ImportError:
    print("13_ray_shared_key.py needs ray: pip install 'ray[data]' (the examples environment has it)")
    sys.exit(77)

from _jina import jina
from haystack import Document
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore

from haystack_integrations.components.embedders.jina import JinaTextEmbedder

VARIABLES = ("JINA_API_KEY", "JINA_API_BASE_URL", "JINA_RATE_LIMITS", "JINA_EXAMPLES_LIVE")


class EmbedBatch:
    """One per actor: a JinaDocumentEmbedder made (and warmed up) once, reused for every batch the actor gets."""

    def __init__(self) -> None:
        from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

        self.embedder = JinaDocumentEmbedder(batch_size=16, progress_bar=False)
        self.embedder.warm_up()  # a bad key fails here, when the pool starts

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        documents = [Document(id=str(i), content=str(c)) for i, c in zip(batch["id"], batch["content"], strict=True)]
        embedded = self.embedder.run(documents)["documents"]
        return {
            "id": [d.id for d in embedded],
            "content": [d.content for d in embedded],
            "embedding": [d.embedding for d in embedded],
            "actor": [os.getpid()] * len(embedded),
        }


def corpus(count: int) -> list[dict[str, str]]:
    topics = ["bees", "mountains", "rivers", "late chunking", "rerankers", "the reader api"]
    return [
        {"id": f"note-{i}", "content": f"Note {i} about {topics[i % len(topics)]}: fact {i}."} for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=4)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--live", action="store_true", help="call the hosted Jina API (needs JINA_API_KEY)")
    args = parser.parse_args()

    with jina(latency=0.05, limits="free") as api:
        # the actors' processes get the key and endpoint from here, as pods would from their deployment
        env_vars = {name: os.environ[name] for name in VARIABLES if name in os.environ}
        ray.init(
            num_cpus=args.actors + 1,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env_vars},
        )
        try:
            started = time.perf_counter()
            rows = (
                ray.data.from_items(corpus(args.docs))
                .map_batches(EmbedBatch, concurrency=args.actors, batch_size=64)
                .take_all()
            )
            seconds = time.perf_counter() - started
        finally:
            ray.shutdown()

        store = InMemoryDocumentStore()
        documents = [Document(id=r["id"], content=r["content"], embedding=list(r["embedding"])) for r in rows]
        written = DocumentWriter(store).run(documents)["documents_written"]
        actors = len({r["actor"] for r in rows})
        print(f"{written} documents embedded by {actors} actors on one key in {seconds:.1f} s")
        if api.emulated:
            refused = api.emulator.rate.refused() if api.emulator else {}
            print(f"the key's refusals (flow control, not failures): {refused or 'none'}")

        query = JinaTextEmbedder().run("what do bees make?")["embedding"]
        hits = InMemoryEmbeddingRetriever(store, top_k=3).run(query_embedding=query)["documents"]
        print("top hit:", hits[0].content)
        assert written == args.docs and all(len(d.embedding or ()) > 0 for d in documents)
    print("OK")


if __name__ == "__main__":
    main()
