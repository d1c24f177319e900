"""Benchmark JinaReaderConverter's memory: a folder of large PDFs streams, it is not loaded. Prints figures.

    python benchmarks/bench_reader_converter.py                          # 24 files x 4 MB, under a minute
    python benchmarks/bench_reader_converter.py --files 200 --size-mb 20  # the issue's folder (4 GB on disk)

Each PDF has two short text pages and a large unreferenced stream (padding), so the answers are small and
the memory figure is about the files going out. The emulator runs as a subprocess
(`python -m haystack_integrations.testing.jina`), so its memory is not counted; the converter posts to
it through `JINA_READER_BASE_URL`.

Measured in this process: the peak RSS during `run` (VmHWM after resetting it, Linux) minus the RSS
before, against the bytes in flight (`max_concurrency` x file size). Target: under 3x the bytes in
flight, whatever the number of files. Loading the folder first (what a converter that reads every
source before sending would hold) is printed for contrast.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.testing.jina.documents import text_pdf

MIB = 1024 * 1024
#: glibc raises its mmap threshold each time a large block is freed, after which freed blocks stay in
#: the heap and RSS shows the allocator's history; a fixed threshold makes RSS follow what is held.
FIXED_MMAP_THRESHOLD = str(1 << 20)


def status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def write_folder(folder: Path, files: int, size: int) -> list[Path]:
    paths = []
    for number in range(files):
        text = [f"File {number}\nA quarterly report.", "Outlook\nMore growth."]
        head = len(text_pdf(text, title=f"Report {number}"))
        padding = max(0, size - head - 64)
        pdf = text_pdf(text, title=f"Report {number}", padding=padding)
        start = pdf.index(b"stream\n" + b"\0" * min(padding, 64)) + len(b"stream\n")
        path = folder / f"report-{number:04d}.pdf"
        with path.open("wb") as file:  # the padding's zeros as a hole: a sparse file, no 4 GB of writes
            file.write(pdf[:start])
            file.seek(start + padding)
            file.write(pdf[start + padding :])
        paths.append(path)
    return paths


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "haystack_integrations.testing.jina", "--port", "0", "--max-recorded", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
    return process, url + "/r/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--size-mb", type=float, default=4.0, help="size of each file in MiB")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.data), args.concurrency)
        return

    size = int(args.size_mb * MIB)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_folder(Path(tmp), args.files, size)
        process, reader_url = start_emulator()
        try:
            environment = {
                **os.environ,
                "JINA_API_KEY": "jina_emulator_key",
                "JINA_READER_BASE_URL": reader_url,
                "MALLOC_MMAP_THRESHOLD_": FIXED_MMAP_THRESHOLD,
                "HAYSTACK_TELEMETRY_ENABLED": "False",
            }
            command = [sys.executable, __file__, "--child", "--data", tmp, "--concurrency", str(args.concurrency)]
            completed = subprocess.run(command, env=environment, check=False, capture_output=True, text=True)
            if completed.returncode:
                raise SystemExit(f"the measuring process failed:\n{completed.stderr}")
            output = completed.stdout
        finally:
            process.terminate()
            process.wait(timeout=10)
    growth_mib, seconds, converted = (float(value) for value in output.split())
    in_flight = args.concurrency * size / MIB
    total = sum(1 for _ in paths) * size / MIB
    print(f"files: {args.files} x {size / MIB:.1f} MiB = {total:.0f} MiB, max_concurrency {args.concurrency}")
    print(f"converted: {converted:.0f} documents in {seconds:.1f} s ({total / seconds:.0f} MiB/s)")
    print(f"bytes in flight (max_concurrency x file size): {in_flight:.1f} MiB")
    print(f"peak RSS growth during run: {growth_mib:.1f} MiB = {growth_mib / in_flight:.2f}x the bytes in flight")
    print(f"target: under 3x -> {'met' if growth_mib < 3 * in_flight else 'MISSED'}")
    print(f"for contrast, loading the folder first would hold at least {total:.0f} MiB ({total / in_flight:.0f}x)")


def child(folder: Path, concurrency: int) -> None:
    paths = sorted(folder.iterdir())
    converter = JinaReaderConverter(max_concurrency=concurrency)
    converter.warm_up()
    converter.run(sources=paths[:1])  # connections, imports and caches warmed before measuring
    before = status_kib("VmRSS")
    reset_peak()
    start = time.perf_counter()
    documents = converter.run(sources=paths)["documents"]
    seconds = time.perf_counter() - start
    growth = max(0, status_kib("VmHWM") - before) / 1024
    assert len(documents) == len(paths) and documents[0].meta["num_pages"] == 2
    print(growth, seconds, len(documents))


if __name__ == "__main__":
    main()
