"""Build the wheel, install it into a fresh virtual environment, import every component from there."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORTS = """
import pathlib, sys
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder, JinaDocumentImageEmbedder, JinaSparseDocumentEmbedder, JinaSparseTextEmbedder,
    JinaTextEmbedder)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.connectors.jina import JinaReaderConnector, JinaReaderMode
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier, train_classifier
from haystack_integrations.components.routers.jina import JinaTextRouter
from haystack_integrations.common.jina import JinaClient, JinaError
from haystack_integrations.testing.jina import JinaEmulator
import haystack_integrations.components.embedders.jina as embedders
with JinaEmulator() as emulator:
    assert emulator.url.startswith("http://127.0.0.1:")
print(pathlib.Path(embedders.__file__).resolve())
"""


def test_wheel_installs_and_imports(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("jina_haystack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = ("embedders", "rankers", "connectors", "websearch", "fetchers", "converters", "classifiers", "routers")
    for package in ("common", "testing", *(f"components/{name}" for name in packages)):
        assert f"haystack_integrations/{package}/jina/py.typed" in names
    assert not any(name in names for name in ("haystack_integrations/__init__.py",)), "namespace package"
    assert not any(name.startswith("tests/") for name in names)

    # A fresh environment that borrows this one's dependencies (haystack, pillow, ...) through a plain path
    # entry, so the editable install's .pth hook of this environment is not processed there.
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)  # this environment's pip installs into it (`--python`): no ensurepip, seconds less
    python = env / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
    )
    out = subprocess.run([str(python), "-c", IMPORTS], check=True, capture_output=True, text=True, cwd=tmp_path)
    imported_from = Path(out.stdout.strip().splitlines()[-1])
    assert env.resolve() in imported_from.parents, f"imported from {imported_from}, not from the wheel"
