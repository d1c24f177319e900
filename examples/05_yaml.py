"""Pipelines as YAML: dump the retrieval pipelines of 01_retrieval.py, load them back, run them.

    python examples/05_yaml.py

The API key is serialized as a reference to the `JINA_API_KEY` environment variable, never as its value,
so the YAML files can be committed and shared. (A key given with `Secret.from_token` refuses to serialize.)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from _jina import jina
from _retrieval import (
    DOCUMENTS,
    QUERIES,
    check_top,
    document_store,
    indexing_pipeline,
    print_results,
    query_inputs,
    query_pipeline,
)
from haystack import Pipeline


def main() -> None:
    with jina() as api, tempfile.TemporaryDirectory(prefix="jina-yaml-") as tmp:
        store = document_store()
        files = {
            "indexing": Path(tmp) / "indexing.yaml",
            "query": Path(tmp) / "query.yaml",
        }
        files["indexing"].write_text(indexing_pipeline(api, store).dumps(), encoding="utf-8")
        files["query"].write_text(query_pipeline(api, store).dumps(), encoding="utf-8")

        key = os.environ["JINA_API_KEY"]
        for name, path in files.items():
            text = path.read_text(encoding="utf-8")
            print(f"{name} pipeline -> {path} ({len(text.splitlines())} lines)")
            assert key not in text, f"the API key must not be in {path}"
        print("The key is not in the YAML files; each component refers to the environment variable instead:")
        query_yaml_text = files["query"].read_text(encoding="utf-8")
        query_yaml = query_yaml_text.splitlines()
        start = query_yaml.index("  embedder:")
        end = next(i for i in range(start, len(query_yaml)) if query_yaml[i].startswith("    type:"))
        for line in query_yaml[start : end + 1]:
            print(f"  | {line}")
        assert "127.0.0.1" not in query_yaml_text, "the YAML holds the hosted default URLs"
        if api.emulated:
            print(f"(base_url is the hosted default; JINA_API_BASE_URL={os.environ['JINA_API_BASE_URL']} moves it)")

        # Load both pipelines back and run them. Stores with the same `index` share their documents, so the
        # loaded query pipeline finds what the loaded indexing pipeline wrote.
        start_time = time.perf_counter()
        indexing = Pipeline.loads(files["indexing"].read_text(encoding="utf-8"))
        written = indexing.run({"embedder": {"documents": DOCUMENTS}})["writer"]["documents_written"]
        print(f"\nLoaded indexing pipeline wrote {written} documents ({time.perf_counter() - start_time:.2f} s)")
        assert written == len(DOCUMENTS)

        query = Pipeline.loads(files["query"].read_text(encoding="utf-8"))
        for question in QUERIES:
            result = query.run(query_inputs(question))
            print_results(question, result)
            check_top(question, result)
        print("\nOK: the pipelines loaded from YAML give the same answers.")


if __name__ == "__main__":
    main()
