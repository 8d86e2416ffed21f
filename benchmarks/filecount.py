#!/usr/bin/env python
"""How many files does the demo session take on disk: ours vs the reference hdmf-zarr 0.14?

Both implementations write the same session (``hdmf_zarr.demo.build_session``: a ~100 MB
extracellular-ephys NWB file with tables, references, images, behavior) with their own
``NWBZarrIO``; ``hdmf_zarr._summary`` then counts each store's files. Run it with the project's
interpreter::

    .venv/bin/python benchmarks/filecount.py [--samples N] [--reference-python PATH] [--keep DIR]

The reference runs in its own interpreter (``benchmarks/.venv-reference`` by default, see
``run.py``); it imports a copy of the demo's builder, so both write the very same objects.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SOURCE = BENCH_DIR.parent / "src" / "hdmf_zarr"
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_REFERENCE = BENCH_DIR / ".venv-reference" / "bin" / "python"

WRITER = """
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {where!r})
from demo_src.demo import build_session
from hdmf_zarr import NWBZarrIO
with NWBZarrIO({path!r}, "w") as io:
    io.write(build_session({samples}){options})
"""


def copy_builder(where: Path) -> None:
    """The demo's session builder as a package of its own (importable next to either hdmf_zarr)."""
    package = where / "demo_src"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    for name in ("demo.py", "_roundtrip.py"):
        shutil.copy(SOURCE / name, package / name)


def write(python: str, where: Path, path: Path, samples: int, options: str = "") -> None:
    code = WRITER.format(where=str(where), path=str(path), samples=samples, options=options)
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{python} could not write {path}: {done.stderr.strip().splitlines()[-1:]}")


def count(path: Path) -> dict[str, Any]:
    from hdmf_zarr._summary import summarize

    summary = summarize(path, read_scalars=False)
    arrays = [node for node in summary.nodes.values() if node.kind == "array"]
    return {
        "files": summary.total_files,
        "metadata_documents": summary.metadata_files,
        "chunk_objects": summary.chunk_files,
        "arrays_without_chunk_objects": sum(1 for node in arrays if node.chunk_files == 0),
        "bytes": summary.total_bytes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=131072, help="samples of the raw series (default ~100 MB)")
    parser.add_argument("--reference-python", default=str(DEFAULT_REFERENCE), help="interpreter with hdmf-zarr 0.14")
    parser.add_argument("--keep", metavar="DIR", help="write the stores into DIR and keep them")
    args = parser.parse_args(argv)
    where = Path(args.keep or tempfile.mkdtemp(prefix="hdmf-zarr-filecount-")).resolve()
    try:
        copy_builder(where)
        rows = {}
        writers = (
            ("ours", sys.executable, ""),
            ("ours, sharding=True", sys.executable, ", sharding=True"),
            ("reference", args.reference_python, ""),
        )
        for label, python, options in writers:
            path = where / f"{label.replace(', ', '-').replace('=', '-')}.nwb.zarr"
            print(f"[filecount] writing the demo session with {label} ({python})", file=sys.stderr, flush=True)
            write(python, where, path, args.samples, options)
            rows[label] = count(path)
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)
    columns = ("files", "metadata_documents", "chunk_objects", "arrays_without_chunk_objects", "bytes")
    print(f"demo session ({args.samples:,} samples x 384 channels), files in the store:")
    print(f"  {'':<20}" + "".join(f"{c:>30}" for c in columns))
    for label, row in rows.items():
        print(f"  {label:<20}" + "".join(f"{row[c]:>30,}" for c in columns))
    for label in ("ours", "ours, sharding=True"):
        print(f"  {label} / reference files = {rows[label]['files'] / max(rows['reference']['files'], 1):.2f}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "filecount.json"
    out.write_text(json.dumps({"samples": args.samples, "counts": rows}, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
