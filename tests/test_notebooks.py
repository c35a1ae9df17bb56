"""Every notebook in notebooks/ executes top to bottom (its last cell asserts its result)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_within_a_minute(path: Path) -> None:
    """Runs the notebook in a fresh kernel; fails on any cell error or if it takes > 60 s
    (kernel compilation is cached by the rest of the suite)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert any("ok" in o.get("text", "") for o in outputs), "final check cell did not print ok"
    assert elapsed < 60.0, f"{path.name} took {elapsed:.1f} s"
