"""Index a large corpus in slices, so peak memory is bounded by the slice, not by the corpus.

    python examples/12_index_in_slices.py                          # 1,200 documents, slices of 150
    python examples/12_index_in_slices.py --docs 100000 --slice 2000

An embedded Document holds its vector as a Python `list[float]`: 1024 values take about 33 KB
(24 bytes per float object + 8 per list slot), so 100k embedded Documents hold about 4 GB whatever
the client does. Indexing in slices keeps only one slice's Documents alive: each slice goes through a
pipeline (JinaDocumentEmbedder -> writer) and is dropped before the next is read. The writer here
appends each vector as float32 (4 KB for 1024 values) to a file, standing in for a vector database
that keeps the vectors outside this process. (An InMemoryDocumentStore keeps every embedded Document
in the process: slicing bounds the pipeline's memory, not the store's.)

Prints the peak Python memory while indexing (tracemalloc) against the formula, and against embedding
the whole corpus in one run.
"""

# No `from __future__ import annotations`: Haystack 2.20 cannot resolve a component's string socket types.
import argparse
import itertools
import struct
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _jina import jina
from haystack import Document, Pipeline, component

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

BYTES_PER_VALUE = 24 + 8  # a float object and its list slot


def corpus(count: int) -> Iterator[Document]:
    """Documents read lazily, one at a time (from files or a database in real use)."""
    topics = ["bees", "mountains", "rivers", "python", "late chunking", "rerankers", "the reader api"]
    for i in range(count):
        topic = topics[i % len(topics)]
        text = f"Note {i} about {topic}: " + " ".join(f"{topic} fact {i}-{k}" for k in range(30))
        yield Document(content=text, meta={"file_path": f"notes/{i // 100}.txt", "topic": topic})


@component
class VectorFileWriter:
    """Appends each document's id and float32 vector to a file: what a vector database would keep for us."""

    def __init__(self, path: str) -> None:
        self.path = path

    @component.output_types(documents_written=int)
    def run(self, documents: list[Document]) -> dict[str, Any]:
        with open(self.path, "ab") as file:
            for document in documents:
                vector = document.embedding or []
                key = document.id.encode()
                file.write(struct.pack(f"<HI{len(key)}s", len(key), len(vector), key))
                file.write(struct.pack(f"<{len(vector)}f", *vector))
        return {"documents_written": len(documents)}


def indexing_pipeline(api_args: dict[str, Any], path: str) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("embedder", JinaDocumentEmbedder(progress_bar=False, batch_size=32, **api_args))
    pipeline.add_component("writer", VectorFileWriter(path))
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline


def index_in_slices(pipeline: Pipeline, documents: Iterator[Document], slice_size: int) -> int:
    written = 0
    while batch := list(itertools.islice(documents, slice_size)):
        result = pipeline.run({"embedder": {"documents": batch}})
        written += result["writer"]["documents_written"]
        del batch, result  # nothing of this slice outlives it
    return written


def vectors_in(path: str) -> tuple[int, set[int]]:
    data, offset, count, lengths = Path(path).read_bytes(), 0, 0, set()
    while offset < len(data):
        key_length, values = struct.unpack_from("<HI", data, offset)
        offset += 6 + key_length + 4 * values
        count, lengths = count + 1, lengths | {values}
    return count, lengths


def peak_mb(run: Any) -> tuple[Any, float]:
    tracemalloc.start()
    try:
        outcome = run()
        return outcome, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_200)
    parser.add_argument("--slice", type=int, default=150, help="documents per pipeline run")
    parser.add_argument("--live", action="store_true", help="call the hosted Jina API (costs credits)")
    args = parser.parse_args()

    with jina() as api, tempfile.TemporaryDirectory() as folder:
        sliced_file, whole_file = str(Path(folder, "sliced.bin")), str(Path(folder, "whole.bin"))
        start = time.perf_counter()
        pipeline = indexing_pipeline(api.embedder_args(), sliced_file)
        written, sliced_peak = peak_mb(lambda: index_in_slices(pipeline, corpus(args.docs), args.slice))
        seconds = time.perf_counter() - start
        count, lengths = vectors_in(sliced_file)
        assert count == written == args.docs, (count, written)
        dimensions = lengths.pop()
        assert not lengths, "every vector has the same length"
        per_doc = dimensions * BYTES_PER_VALUE / 1e6
        print(f"Indexed {written} documents in slices of {args.slice} in {seconds:.1f} s ({dimensions}-d vectors)")
        print(
            f"peak Python memory: {sliced_peak:.0f} MB; one slice's vectors: {args.slice} x {dimensions} x "
            f"{BYTES_PER_VALUE} B = {args.slice * per_doc:.0f} MB"
        )

        whole = indexing_pipeline(api.embedder_args(), whole_file)
        _, whole_peak = peak_mb(lambda: whole.run({"embedder": {"documents": list(corpus(args.docs))}}))
        print(
            f"all {args.docs} in one run instead: peak {whole_peak:.0f} MB (the corpus's vectors: "
            f"{args.docs * per_doc:.0f} MB): {whole_peak / sliced_peak:.1f}x the sliced peak"
        )
        assert sliced_peak < whole_peak, "slicing must bound the peak"
        print("OK: the sliced peak is bounded by the slice, not by the corpus.")


if __name__ == "__main__":
    main()
