#!/usr/bin/env python
"""Peak memory of writing a dask array: ours vs raw zarr-python + dask (and the reference hdmf-zarr 0.14).

The data is an int16 (T, 128) dask array built with ``dask.array.map_blocks`` (deterministic noise, one
block per call, never held whole): 256 MiB in 16 MiB blocks (``--quick``: 32 MiB in 2 MiB blocks). It is
written with the threaded scheduler (dask's default) by:

- **ours**: ``NWBZarrIO.write`` of an NWB file whose TimeSeries data is ``ZarrDataIO(data, chunks=CHUNKS)``;
- **reference**: the same with hdmf-zarr 0.14 (in its own interpreter, as in ``run.py``; dask is installed
  there on first use). Its ``ZarrDataIO`` refuses dask arrays (``TypeError``), so the table says why it is n/a;
- **raw to_zarr**: ``dask.array.to_zarr(data, array)`` into a zarr v3 array made with ``zarr.create_array(...,
  chunks=CHUNKS)`` (dask rechunks to its ``array.chunk-size`` blocks, 128 MiB by default, before writing);
- **raw store**: ``dask.array.store(data, array, lock=False)`` of the dask blocks as they are, after a rechunk to
  chunk multiples when they cut through chunks (what dask needs to write safely without a lock).

Two chunk shapes: ``(16384, 128)``, which the blocks hold whole (4 chunks a block), and ``(30000, 64)``,
which the block edges cut through, so the data must be realigned before or while it is written (with
``--quick``, the same shapes scaled to the smaller blocks). Before the measured write each worker writes a
small array the same way, so that imports, thread pools and caches are not counted. Every
measurement runs in a fresh process; the peak is the RSS high-water mark during the write above the RSS just
before it (``run.Probe``: ``/proc/self/clear_refs`` + ``VmHWM`` on Linux). ``--workers N`` sets dask's
``num_workers`` for every writer (by default ours picks its own, raw dask uses one thread per core). Run it
with the project's interpreter::

    .venv/bin/python benchmarks/dask_memory.py [--quick] [--repeat N] [--workers N] [--no-reference] [--python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import run  # noqa: E402  (a sibling module, standard library only at import time)

MIB = 1 << 20
COLUMNS = 128
FULL = {"array_mib": 256, "block_mib": 16}
QUICK = {"array_mib": 32, "block_mib": 2}
#: chunk shapes, as (rows per block -> chunk rows, chunk columns): 4 chunks a block, or chunks the block edges cut
CASES = {"aligned": (lambda rows: rows // 4, COLUMNS), "cut": (lambda rows: rows * 30000 // 65536, COLUMNS // 2)}
IMPLS = {
    "ours": "ours (NWBZarrIO)",
    "reference": f"reference (hdmf-zarr {run.REFERENCE_VERSION})",
    "to_zarr": "raw da.to_zarr(data, array)",
    "store": "raw da.store(data, array)",
}
DATA_PATH = "acquisition/ts/data"


# ============================================================================================ worker


def block_rows(sizes: dict[str, int]) -> int:
    return sizes["block_mib"] * MIB // (2 * COLUMNS)


def chunk_shape(case: str, sizes: dict[str, int]) -> list[int]:
    rows, columns = CASES[case]
    return [rows(block_rows(sizes)), columns]


def make_data(sizes: dict[str, int]) -> Any:
    import dask.array as da
    import numpy as np

    rows = sizes["array_mib"] * MIB // (2 * COLUMNS)
    block = block_rows(sizes)

    def noise(block_info: Any = None) -> Any:
        (start, stop), (_, columns) = block_info[None]["array-location"]
        rng = np.random.default_rng(start)
        return rng.integers(-100, 100, size=(stop - start, columns), dtype=np.int16)

    chunks = ((block,) * (rows // block), (COLUMNS,))
    return da.map_blocks(noise, chunks=chunks, dtype=np.int16, meta=np.empty((0, 0), np.int16))


def expected_sum(data: Any) -> int:
    import numpy as np

    total = 0
    for index in np.ndindex(data.numblocks):
        total += int(data.blocks[index].compute(scheduler="synchronous").sum(dtype=np.int64))
    return total


def written_sum(path: str) -> int:
    import numpy as np
    import zarr

    array = zarr.open_array(path, mode="r")
    step = max(1, (16 * MIB) // (array.dtype.itemsize * array.shape[1]))
    return sum(int(array[i : i + step].sum(dtype=np.int64)) for i in range(0, array.shape[0], step))


def cut_to_multiples(data: Any, chunks: tuple[int, ...]) -> Any:
    """``data`` rechunked to multiples of ``chunks`` near its blocks, when its blocks cut through chunks."""
    if all(all(size % c == 0 for size in dim[:-1]) for dim, c in zip(data.chunks, chunks)):
        return data
    return data.rechunk(tuple(max(1, round(max(dim) / c)) * c for dim, c in zip(data.chunks, chunks)))


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    impl, path, chunks = spec["impl"], spec["path"], tuple(spec["chunks"])
    import dask
    import dask.array as da

    data = make_data(spec["sizes"])
    small = make_data({"array_mib": 1, "block_mib": 1})
    if impl in ("ours", "reference"):
        from pynwb import TimeSeries
        from pynwb.testing.mock.file import mock_NWBFile

        from hdmf_zarr import NWBZarrIO
        from hdmf_zarr.utils import ZarrDataIO

        def writer(values: Any, where: str) -> Any:
            nwbfile = mock_NWBFile()
            wrapped = ZarrDataIO(values, chunks=tuple(min(c, n) for c, n in zip(chunks, values.shape)))
            nwbfile.add_acquisition(TimeSeries(name="ts", data=wrapped, unit="a.u.", rate=1.0))

            def work() -> None:
                with NWBZarrIO(where, mode="w") as io:
                    io.write(nwbfile)

            return work

        target = f"{path}/{DATA_PATH}"
    else:
        import zarr

        def writer(values: Any, where: str) -> Any:
            def work() -> None:
                shape = tuple(min(c, n) for c, n in zip(chunks, values.shape))
                array = zarr.create_array(where, shape=values.shape, dtype=values.dtype, chunks=shape)
                if impl == "to_zarr":
                    da.to_zarr(values, array)
                else:
                    da.store(cut_to_multiples(values, shape), array, lock=False)

            return work

        target = path
    config = {"scheduler": "threads"}
    if spec.get("workers"):
        config["num_workers"] = spec["workers"]
    with dask.config.set(config):
        writer(small, path + ".warm-up")()
    shutil.rmtree(path + ".warm-up", ignore_errors=True)
    work = writer(data, path)
    with dask.config.set(config), run.Probe() as memory:
        start = time.perf_counter()
        work()
        elapsed = time.perf_counter() - start
    result = {"impl": impl, "time_s": elapsed, **memory.report()}
    result["array_mib"] = data.nbytes / MIB
    result["block_mib"] = max(data.chunks[0]) * data.shape[1] * data.dtype.itemsize / MIB
    result["correct"] = written_sum(target) == expected_sum(data)
    result["versions"] = {"dask": dask.__version__, **run._versions()}
    return result


# ============================================================================================ parent


def reference_has_dask(python: str) -> str | None:
    """Install dask into the reference's interpreter when it lacks it; None on success, else why not."""
    probe = subprocess.run([python, "-c", "import dask.array"], capture_output=True, text=True, check=False)
    if probe.returncode == 0:
        return None
    run._log("installing dask into the reference interpreter")
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "dask[array]"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=run._child_env(), check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or ["no output"]
        return f"the reference interpreter has no dask ({lines[-1]})"
    return None


def measure(python: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    command = [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=run._child_env(), check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(run.RESULT_MARKER):
            return json.loads(line[len(run.RESULT_MARKER) :])
    tail = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
    return {"error": f"worker exited with {done.returncode}: " + (tail[-1] if tail else "no output")}


def render(results: dict[str, dict[str, Any]], sizes: dict[str, int], repeat: int, num_workers: int | None) -> str:
    workers = f" with num_workers={num_workers}" if num_workers else ""
    lines = [
        f"peak RSS above the RSS before the write, {sizes['array_mib']} MiB int16 dask array (map_blocks, "
        f"{sizes['block_mib']} MiB blocks, threaded scheduler{workers}, {os.cpu_count()} CPUs); "
        f"max peak and best / median time of {repeat} run(s)"
    ]
    for case, measured in results.items():
        lines.append("")
        lines.append(f"zarr chunks {tuple(chunk_shape(case, sizes))} ({case})")
        lines.append(
            f"  {'writer':<34}{'peak +MiB':>10}{'% array':>9}{'blocks':>8}{'best s':>8}{'median s':>10}{'cpu s':>7}"
        )
        for impl, entry in measured.items():
            label = IMPLS[impl]
            if "error" in entry:
                error = entry["error"] if len(entry["error"]) <= 100 else entry["error"][:97] + "..."
                lines.append(f"  {label:<34}{'n/a':>10}   ({error})")
                continue
            peak = entry["peak_mib"]
            lines.append(
                f"  {label:<34}{peak:>10.1f}{100 * peak / sizes['array_mib']:>8.0f}%"
                f"{peak / sizes['block_mib']:>8.1f}{entry['best_s']:>8.2f}{entry['median_s']:>10.2f}"
                f"{entry['cpu_s']:>7.1f}" + ("" if entry["correct"] else "   WRONG DATA")
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 MiB in 2 MiB blocks, one run each")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement (default 3, 1 with --quick)")
    parser.add_argument("--only", action="append", choices=list(IMPLS), help="measure only this writer (repeatable)")
    parser.add_argument("--case", action="append", choices=list(CASES), help="only this chunk shape (repeatable)")
    parser.add_argument("--workers", type=int, help="dask num_workers for every writer (default: not set)")
    parser.add_argument("--python", metavar="PATH", default=sys.executable, help="interpreter for ours and raw zarr")
    parser.add_argument("--reference-python", metavar="PATH", help="interpreter with hdmf-zarr 0.14 installed")
    parser.add_argument("--no-reference", action="store_true", help="do not measure the reference hdmf-zarr")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per worker process")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(run.RESULT_MARKER + json.dumps(run_worker(json.loads(args.worker))), flush=True)
        return 0
    repeat = args.repeat or (1 if args.quick else 3)
    sizes = QUICK if args.quick else FULL
    impls = [impl for impl in IMPLS if not args.only or impl in args.only]
    pythons = dict.fromkeys(impls, args.python)
    unavailable: dict[str, str] = {}
    if "reference" in impls:
        python, message = run.ensure_reference_python(args)
        pythons["reference"] = python
        problem = message if python is None else reference_has_dask(python)
        if problem:
            unavailable["reference"] = problem
    cases = [case for case in CASES if not args.case or case in args.case]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {case: {impl: [] for impl in impls} for case in cases}
    workdir = Path(tempfile.mkdtemp(prefix="hdmf-zarr-dask-memory-"))
    try:
        for index in range(repeat):  # interleaved, so background load spreads over all writers
            for case in cases:
                for impl in impls:
                    if impl in unavailable:
                        continue
                    run._log(f"{case} / {impl}: run {index + 1} of {repeat}")
                    path = str(workdir / f"{case}-{impl}.zarr")
                    spec = {"impl": impl, "path": path, "chunks": chunk_shape(case, sizes), "sizes": sizes}
                    spec["workers"] = args.workers
                    runs[case][impl].append(measure(pythons[impl], spec, args.timeout))
                    shutil.rmtree(path, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results: dict[str, dict[str, Any]] = {}
    for case in cases:
        results[case] = {}
        for impl in impls:
            done = [r for r in runs[case][impl] if "error" not in r]
            errors = [r["error"] for r in runs[case][impl] if "error" in r]
            if impl in unavailable or errors or not done:
                results[case][impl] = {"error": unavailable.get(impl) or (errors or ["no run"])[0]}
                continue
            times = [r["time_s"] for r in done]
            results[case][impl] = {
                "peak_mib": max(r["rss_peak_above_baseline_mib"] for r in done),
                "best_s": min(times),
                "median_s": statistics.median(times),
                "cpu_s": min(r["cpu_s"] for r in done),
                "correct": all(r["correct"] for r in done),
                "runs": done,
            }
    table = render(results, sizes, repeat, args.workers)
    print(table)
    run.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    output = run.RESULTS_DIR / f"dask-memory-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    document = {"sizes": sizes, "repeat": repeat, "workers": args.workers, "results": results, "table": table}
    output.write_text(json.dumps(document, indent=2))
    print(f"\nresults written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
