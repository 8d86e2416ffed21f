"""The Python examples in docs/extending.md run as written (the GPU one needs a GPU and is skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_extending_example_runs(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    if "import cupy" in code:
        pytest.importorskip("cupy", reason="the GPU example needs cupy and a CUDA device")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{DOC.name} example {index + 1}", "exec"), {"__name__": "__docs__"})
