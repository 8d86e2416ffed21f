#!/usr/bin/env python
"""Virtual NWB files on S3: an HDF5 file referenced in place, against reading it directly, LINDI and a full copy.

Run it with the project's interpreter, ``.venv/bin/python benchmarks/virtual_s3.py`` (``--quick`` for a smoke
test); see ``benchmarks/README.md`` ("Virtual NWB files on S3"). Two HDF5 NWB files are written with pynwb's
``NWBHDF5IO`` and uploaded to moto's S3 server on 127.0.0.1 (``hdmf_zarr.testing.s3server.LocalS3Server``, in this
process): the many-objects file of ``run.py`` (500 TimeSeries, a Units table, 384 electrodes) and an
ElectricalSeries file (int16, 524288 x 64 = 64 MiB, chunks of 10000 x 64, gzip). For each file it measures:

1. making the file that points at (or copies) the HDF5 object: ``hdmf_zarr.virtual.virtualize`` to one JSON
   reference file and to an Icechunk repository, LINDI's reference file (``LindiH5pyFile.from_hdf5_file(url)``,
   ``write_lindi_file``) and a full ``convert`` of the local HDF5 file to Zarr on S3: time, requests, bytes read
   from the HDF5 object, bytes written, size of the result;
2. open + ``read()``: our virtual JSON and Icechunk files and our converted copy (``NWBZarrIO``), the HDF5 object
   read by ``NWBHDF5IO`` over ``s3fs`` (its default 50 MiB read-ahead, and 1 MiB blocks), and LINDI's reference
   file (``LindiH5pyFile.from_lindi_file(url)`` under ``NWBHDF5IO``): time, requests, bytes fetched;
3. the ElectricalSeries only: ``data[0:30000, 0:64]``, the same block from the middle of the series (not aligned
   with the chunks) and ``data[:]``, with the same readers: time, requests, bytes fetched.

Every measurement runs in a fresh worker process. The worker sends a marker request (``HEAD /bench/__mark__/<phase>``)
before and after each timed phase; a small WSGI layer that this benchmark puts around the server's app tags every
request with the phase it arrived in and counts the body bytes the server handed to the connection (a GET's
response, a PUT's upload). LINDI needs zarr 2: it runs only in a side virtual environment
(``~/.cache/hdmf_zarr_bench/lindi-venv``, made with ``python -m venv`` and ``pip install lindi pynwb`` on first use,
or ``--lindi-python``), in its own worker processes, reading the server by plain HTTP (the bucket is made public).

Only the standard library is imported at module level (the same file runs as the worker, under both interpreters).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import icechunk_s3  # noqa: E402  (sibling modules, standard library only at import time)
import run  # noqa: E402
import s3bench  # noqa: E402

RESULT_MARKER = "@@VIRTUAL-S3-RESULT@@ "
LINDI_VENV = Path.home() / ".cache" / "hdmf_zarr_bench" / "lindi-venv"
LINDI_PACKAGES = ["lindi", "pynwb"]
MIB = 1 << 20
#: bytes of a response handed to the connection at a time: a slice is counted once the server has written it
SLICE = 64 * 1024

#: the ElectricalSeries file: int16 (rows, channels), gzip level 4, the block read and its offset in the middle
EPHYS_FULL = {"rows": 524288, "channels": 64, "chunks": [10000, 64], "block": 30000, "rate": 30000.0}
EPHYS_QUICK = {**EPHYS_FULL, "rows": 131072}
FILES = {"many": "500-object file", "ephys": "ElectricalSeries file"}
#: how each kind of file is made from the HDF5 object, and the interpreter that makes it
MAKERS = {
    "virtual-json": ("ours", "virtual JSON (`virtualize`)"),
    "virtual-icechunk": ("ours", "virtual Icechunk (`virtualize`)"),
    "lindi": ("lindi", "LINDI JSON (`from_hdf5_file`)"),
    "copy": ("ours", "full copy (`convert` to Zarr)"),
}
READERS = {
    "virtual-json": ("ours", "our virtual JSON"),
    "virtual-icechunk": ("ours", "our virtual Icechunk"),
    "hdf5-s3fs": ("ours", "NWBHDF5IO over s3fs (defaults)"),
    "hdf5-s3fs-1mib": ("ours", "NWBHDF5IO over s3fs (1 MiB blocks)"),
    "lindi": ("lindi", "LINDI JSON"),
    "copy": ("ours", "our converted Zarr copy"),
}
#: the data reads of the ElectricalSeries file, by worker process: the two blocks share no chunk (nor a 1 MiB block
#: of the HDF5 object), and the whole series is read by a process of its own, so that no reader's cache helps it
DATA_RUNS = [["start", "middle"], ["whole"]]
DATA_PHASES = {"start": "data[0:30000, 0:64]", "middle": "same block mid-series", "whole": "data[:] (whole series)"}


# ============================================================================================ worker


def _phase(spec: dict[str, Any], phase: str, work: Any) -> tuple[dict[str, Any], Any]:
    """Time ``work()`` (wall and CPU) between the markers of ``phase`` and ``end``."""
    icechunk_s3._mark(spec["endpoint"], phase)
    with run.Probe() as probe:
        start = time.perf_counter()
        value = work()
        elapsed = time.perf_counter() - start
    icechunk_s3._mark(spec["endpoint"], "end")
    return {"time_s": elapsed, "cpu_s": probe.cpu}, value


def build_ephys_nwbfile(ephys: dict[str, Any]) -> Any:
    """An NWBFile with one gzip-compressed int16 ElectricalSeries: slow sines per channel plus noise (seed 0)."""
    import numpy as np
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBFile
    from pynwb.ecephys import ElectricalSeries

    rng = np.random.default_rng(0)
    rows, channels = ephys["rows"], ephys["channels"]
    data = np.empty((rows, channels), dtype=np.int16)
    freqs = rng.uniform(1.0, 40.0, channels).astype(np.float32) / np.float32(ephys["rate"])
    phases = rng.uniform(0.0, 2 * np.pi, channels).astype(np.float32)
    step = 65536
    for start in range(0, rows, step):
        t = np.arange(start, min(start + step, rows), dtype=np.float32)[:, None]
        signal = 300.0 * np.sin(np.float32(2 * np.pi) * freqs * t + phases)
        signal += rng.normal(0.0, 12.0, signal.shape).astype(np.float32)
        data[start : start + len(t)] = signal.astype(np.int16)
    nwbfile = NWBFile(
        session_description="hdmf_zarr benchmark: one gzip ElectricalSeries",
        identifier="hdmf-zarr-benchmark-virtual-ephys",
        session_start_time=run._session_start(),
    )
    run._add_electrodes(nwbfile, channels)
    region = nwbfile.create_electrode_table_region(list(range(channels)), "all electrodes")
    wrapped = H5DataIO(data, chunks=tuple(ephys["chunks"]), compression="gzip", compression_opts=4)
    series = ElectricalSeries(
        name="ElectricalSeries", data=wrapped, electrodes=region, rate=ephys["rate"], starting_time=0.0
    )
    nwbfile.add_acquisition(series)
    return nwbfile


def _import_clients(spec: dict[str, Any]) -> float:
    """Import what the worker's client needs before anything is timed; returns the seconds it took."""
    import importlib

    start = time.perf_counter()
    if spec.get("maker") == "lindi" or spec.get("reader") == "lindi":
        names = ["numpy", "h5py", "pynwb", "lindi"]
    else:
        names = ["numpy", "h5py", "pynwb", "zarr", "fsspec.implementations.reference", "s3fs", "hdmf_zarr"]
        names += ["hdmf_zarr.virtual", "hdmf_zarr._convert.convert", "icechunk"]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the timed call reports what is missing
    return time.perf_counter() - start


def _build(spec: dict[str, Any]) -> dict[str, Any]:
    from pynwb import NWBHDF5IO

    start = time.perf_counter()
    nwbfile = run.build_many_objects_nwbfile(spec["sizes"]) if spec["file"] == "many" else build_ephys_nwbfile(spec)
    with NWBHDF5IO(spec["path"], "w") as io:
        io.write(nwbfile)
    return {"build_s": time.perf_counter() - start, "bytes": os.path.getsize(spec["path"])}


def _make(spec: dict[str, Any]) -> dict[str, Any]:
    """One way of making a file from the HDF5 object, timed as the phase ``create``."""
    maker, options = spec["maker"], spec["storage_options"]
    imported = _import_clients(spec)
    if maker.startswith("virtual-"):
        from hdmf_zarr.virtual import virtualize

        def work() -> None:
            virtualize(spec["source_url"], spec["destination"], storage_options=options, overwrite=True)

    elif maker == "copy":
        from hdmf_zarr._convert.convert import convert

        def work() -> None:
            convert(spec["local"], spec["destination"], storage_options=options, overwrite=True)

    else:  # lindi: its reference file system of the HDF5 object (read by HTTP), written to a local file
        import lindi

        def work() -> None:
            h5file = lindi.LindiH5pyFile.from_hdf5_file(spec["source_http"])
            h5file.write_lindi_file(spec["destination"])
            h5file.close()

    timing, _ = _phase(spec, "create", work)
    return {"import_s": imported, "phases": {"create": timing}}


def _open_reader(spec: dict[str, Any]) -> tuple[Any, Any]:
    """Open the file ``spec["reader"]`` reads; returns (the IO object, the NWBFile of its ``read()``)."""
    reader, options = spec["reader"], spec["storage_options"]
    if reader in ("virtual-json", "virtual-icechunk", "copy"):
        from hdmf_zarr import NWBZarrIO

        io = NWBZarrIO(spec["target"], "r", storage_options=options)
        return io, io.read()
    from pynwb import NWBHDF5IO

    if reader == "lindi":
        import lindi

        h5file = lindi.LindiH5pyFile.from_lindi_file(spec["target"])
    else:
        import h5py
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
        tuning = {"block_size": MIB, "cache_type": "blockcache"} if reader == "hdf5-s3fs-1mib" else {}
        h5file = h5py.File(fs.open(spec["target"], "rb", **tuning), "r")
    io = NWBHDF5IO(file=h5file, mode="r")
    return io, io.read()


def _read(spec: dict[str, Any]) -> dict[str, Any]:
    """open + read(), then (ElectricalSeries file) the two blocks and the whole series, each a phase."""
    import numpy as np

    result: dict[str, Any] = {"import_s": _import_clients(spec), "phases": {}}
    result["phases"]["open"], (io, nwbfile) = _phase(spec, "open", lambda: _open_reader(spec))
    check: dict[str, Any] = {"acquisition": len(nwbfile.acquisition)}
    if spec["file"] == "ephys":
        data = nwbfile.acquisition["ElectricalSeries"].data
        block, channels = spec["block"], spec["channels"]
        middle = spec["rows"] // 2
        reads = {
            "start": lambda: np.asarray(data[0:block, 0:channels]),
            "middle": lambda: np.asarray(data[middle : middle + block, 0:channels]),
            "whole": lambda: np.asarray(data[:]),
        }
        for phase in spec["data"]:
            result["phases"][phase], values = _phase(spec, phase, reads[phase])
            check[phase] = {"shape": list(values.shape), "sum": int(values.sum(dtype=np.int64))}
    else:
        check["units"] = len(nwbfile.units.id)
    result["check"] = check
    io.close()
    return result


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    try:
        if spec["op"] == "build":
            return _build(spec)
        if spec["op"] == "make":
            return _make(spec)
        return _read(spec)
    except Exception as err:  # reported in the table, the other rows still run
        import traceback

        traceback.print_exc()
        return {"error": f"{type(err).__name__}: {err}"}


# ============================================================================================ traffic


class Traffic:
    """WSGI layer around the server's app: every request, the phase it arrived in, and the body bytes moved.

    ``out`` counts a response's body in slices of ``SLICE`` bytes, each once the server has written it to the
    connection (a client that drops the connection mid-body, as LINDI's length probe does, is charged for what
    was written until then); ``in`` is a request's declared body size (an upload).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.phase = "before"

    def reset(self) -> None:
        with self.lock:
            self.records = []
            self.phase = "before"

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(record) for record in self.records]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "?")
        if path.startswith(f"/{s3bench.BUCKET}/{icechunk_s3.MARK}/"):
            with self.lock:
                self.phase = path.rsplit("/", 1)[1]
            return self.app(environ, start_response)
        declared = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH") or 0
        record = {
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "range": environ.get("HTTP_RANGE"),
            "in": int(declared),
            "out": 0,
            "start": time.perf_counter(),
            "end": None,
        }
        with self.lock:
            record["phase"] = self.phase
            self.records.append(record)
        return self._count(self.app(environ, start_response), record)

    @staticmethod
    def _count(body: Any, record: dict[str, Any]) -> Any:
        try:
            for piece in body:
                for offset in range(0, len(piece), SLICE):
                    part = bytes(piece[offset : offset + SLICE])
                    yield part
                    record["out"] += len(part)  # resumed: the server wrote the slice
        finally:
            record["end"] = time.perf_counter()
            close = getattr(body, "close", None)
            if close is not None:
                close()


def install_traffic(server: Any) -> Traffic:
    """Put a ``Traffic`` layer around the running server's WSGI app (wsgiref's ``set_app``)."""
    wsgi = server._server
    traffic = Traffic(wsgi.get_app())
    wsgi.set_app(traffic)
    return traffic


def _object_kind(path: str, query: str) -> str:
    """What a request's target is: the HDF5 object, a JSON file, an Icechunk or Zarr object, a listing."""
    parts = path.lstrip("/").split("/", 2)
    if len(parts) < 2 or not parts[1]:
        return "list" if "list-type" in query or "prefix=" in query else "bucket"
    area, rest = parts[1], parts[2] if len(parts) > 2 else ""
    name, _, inner = rest.partition("/")
    if area == "src":
        return "hdf5"
    if area == "lindi":
        return "lindi json"
    if area == "virtual" and name.endswith(".json"):
        return "json"
    if area == "virtual":
        return f"icechunk {icechunk_s3._kind('icechunk', inner)}" if inner else "icechunk"
    if area == "copy":
        return f"zarr {icechunk_s3._kind('zarr', inner)}" if inner else "zarr"
    return "other"


def _peak_in_flight(records: list[dict[str, Any]]) -> int:
    """The most requests the server was answering at once (arrival to the last byte of the response)."""
    events = sorted(
        [(r["start"], 1) for r in records if r["end"] is not None]
        + [(r["end"], -1) for r in records if r["end"] is not None],
        key=lambda event: (event[0], event[1]),
    )
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def split_traffic(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per phase: requests by method and by object, bytes out and in, HDF5 bytes and whole-object GETs of it."""
    phases: dict[str, dict[str, Any]] = {}
    by_phase: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_phase.setdefault(record["phase"], []).append(record)
        counts = phases.setdefault(
            record["phase"],
            {"by_method": Counter(), "by_kind": Counter(), "bytes_by_kind": Counter(), "out": 0, "in": 0, "full": 0},
        )
        kind = _object_kind(record["path"], record["query"])
        counts["by_method"][record["method"]] += 1
        counts["by_kind"][kind] += 1
        counts["bytes_by_kind"][kind] += record["out"]
        counts["out"] += record["out"]
        counts["in"] += record["in"]
        if kind == "hdf5" and record["method"] == "GET" and not record["range"]:
            counts["full"] += 1
    return {
        phase: {
            "total": sum(c["by_method"].values()),
            "by_method": dict(sorted(c["by_method"].items())),
            "by_kind": dict(sorted(c["by_kind"].items())),
            "bytes_by_kind": dict(sorted(c["bytes_by_kind"].items())),
            "bytes_out": c["out"],
            "bytes_in": c["in"],
            "hdf5_bytes": c["bytes_by_kind"].get("hdf5", 0),
            "hdf5_whole_gets": c["full"],
            "peak_in_flight": _peak_in_flight(by_phase[phase]),
            "server_s": sum(r["end"] - r["start"] for r in by_phase[phase] if r["end"] is not None),
        }
        for phase, c in phases.items()
    }


# ============================================================================================ parent


def _log(message: str) -> None:
    print(f"[virtual-s3] {message}", file=sys.stderr, flush=True)


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _probe(python: str, code: str) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=300, env=run._child_env(), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"cannot run {python}: {err}"
    if done.returncode != 0:
        return False, _last_line(done.stderr)
    return True, _last_line(done.stdout)


LINDI_PROBE = (
    "import json, lindi, pynwb, zarr, h5py; from importlib import metadata; "
    "print(json.dumps({d: metadata.version(d) for d in ('lindi', 'zarr', 'pynwb', 'hdmf', 'h5py', 'numpy')}))"
)


def ensure_lindi(args: argparse.Namespace) -> tuple[str | None, str]:
    """LINDI's interpreter (the side venv, made on first use), or None and the reason it is unavailable."""
    if args.no_lindi:
        return None, "skipped (--no-lindi)"
    python = args.lindi_python or str(run._venv_python(LINDI_VENV))
    if Path(python).exists():
        ok, message = _probe(python, LINDI_PROBE)
        if ok:
            return python, message
        if args.lindi_python:
            return None, f"{python} cannot run LINDI: {message}"
        _log(f"the LINDI venv {LINDI_VENV} is unusable ({message}); recreating it")
        shutil.rmtree(LINDI_VENV, ignore_errors=True)
    _log(f"creating the LINDI venv {LINDI_VENV} (pip install {' '.join(LINDI_PACKAGES)}) ...")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--timeout", "60"]
    for command in ([sys.executable, "-m", "venv", str(LINDI_VENV)], pip + LINDI_PACKAGES):
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=1800, env=run._child_env(), check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return None, f"could not create the LINDI venv: {err}"
        if done.returncode != 0:
            return None, f"could not create the LINDI venv ({' '.join(command[:4])} ...): {_last_line(done.stderr)}"
    ok, message = _probe(python, LINDI_PROBE)
    return (python, message) if ok else (None, f"LINDI installed but unusable: {message}")


def virtual_available(python: str) -> str | None:
    """None when ``hdmf_zarr.virtual.virtualize`` can be imported, else why not."""
    ok, message = _probe(python, "from hdmf_zarr.virtual import virtualize; print('ok')")
    return None if ok else f"hdmf_zarr.virtual.virtualize is not available ({message})"


class Bench:
    def __init__(
        self, args: argparse.Namespace, workdir: Path, pythons: dict[str, str | None], skipped: dict[str, str]
    ) -> None:
        self.args = args
        self.workdir = workdir
        self.pythons = pythons  # "ours", "lindi": the interpreter, None when unavailable
        self.skipped = skipped  # maker -> why it cannot run here
        self.server = s3bench.server()
        self.traffic = install_traffic(self.server)
        self.server.make_public(s3bench.BUCKET)  # LINDI reads by plain HTTP
        self.options = self.server.storage_options()
        import s3fs

        self.fs = s3fs.S3FileSystem(skip_instance_cache=True, **self.options)

    def http(self, key: str) -> str:
        return f"{self.server.endpoint}/{s3bench.BUCKET}/{key}"

    def worker(self, spec: dict[str, Any], python: str) -> dict[str, Any]:
        spec = {**spec, "endpoint": self.server.endpoint, "storage_options": self.options}
        command = [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
        self.traffic.reset()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.args.timeout, env=run._child_env(), check=False
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.args.timeout} s"}
        records = self.traffic.snapshot()
        for line in reversed(done.stdout.splitlines()):
            if line.startswith(RESULT_MARKER):
                result = json.loads(line[len(RESULT_MARKER) :])
                result["process_s"] = time.perf_counter() - started
                result["requests"] = split_traffic(records)
                last = _last_line(done.stderr)
                if "error" in result and done.stderr.strip() and last not in result["error"]:
                    result["error"] += f" ({last})"
                return result
        return {"error": f"worker exited with {done.returncode}: {_last_line(done.stderr or done.stdout)}"}

    def size(self, key: str) -> dict[str, Any]:
        """Objects and bytes under ``key`` (one object or a prefix) on the server, by kind."""
        path = f"{s3bench.BUCKET}/{key}"
        if self.fs.isfile(path):
            return {"objects": 1, "bytes": int(self.fs.info(path)["size"])}
        found = self.fs.find(path, detail=True)
        kinds: Counter = Counter()
        for name, info in found.items():
            kinds[_object_kind("/" + name, "")] += int(info.get("size") or 0)
        return {"objects": len(found), "bytes": sum(kinds.values()), "bytes_by_kind": dict(sorted(kinds.items()))}


def _spec_file(file: str, sizes: dict[str, Any], ephys: dict[str, Any]) -> dict[str, Any]:
    return {"file": file, "sizes": sizes, **(ephys if file == "ephys" else {})}


def _destination(maker: str, file: str, index: int) -> str:
    """Where a maker's run ``index`` writes: a key under the bucket (LINDI: a local file name)."""
    return {
        "virtual-json": f"virtual/{file}-r{index}.json",
        "virtual-icechunk": f"virtual/{file}-r{index}.icechunk",
        "copy": f"copy/{file}-r{index}.nwb.zarr",
        "lindi": f"{file}-r{index}.lindi.json",
    }[maker]


def measure_file(bench: Bench, file: str, sizes: dict[str, Any], ephys: dict[str, Any]) -> dict[str, Any]:
    """Build and upload one HDF5 file, then every maker and every reader, ``--repeat`` times, interleaved."""
    base = _spec_file(file, sizes, ephys)
    out: dict[str, Any] = {"made": {}, "read": {}, "errors": {}, "objects": {}}
    local = str(bench.workdir / f"{file}.nwb")
    _log(f"{file}: writing the HDF5 file with NWBHDF5IO (untimed)")
    built = bench.worker({**base, "op": "build", "path": local}, bench.args.python)
    if "error" in built:
        out["errors"]["build"] = built["error"]
        return out
    source_key = f"src/{file}.nwb"
    bench.fs.put(local, f"{s3bench.BUCKET}/{source_key}")
    out["hdf5"] = {"bytes": built["bytes"], "build_s": built["build_s"], "key": source_key}
    _log(f"{file}: {built['bytes'] / MIB:.1f} MiB uploaded to s3://{s3bench.BUCKET}/{source_key}")

    targets: dict[str, str] = {}
    for index in range(bench.args.repeat):
        for maker, (who, _label) in MAKERS.items():
            if maker in out["errors"]:
                continue
            python = bench.pythons.get(who)
            if maker in bench.skipped or python is None:
                out["errors"][maker] = bench.skipped.get(maker, "unavailable")
                continue
            key = _destination(maker, file, index)
            destination = str(bench.workdir / key) if maker == "lindi" else f"s3://{s3bench.BUCKET}/{key}"
            _log(f"{file}: make {maker}, run {index + 1} of {bench.args.repeat}")
            spec = {
                **base,
                "op": "make",
                "maker": maker,
                "local": local,
                "source_url": f"s3://{s3bench.BUCKET}/{source_key}",
                "source_http": bench.http(source_key),
                "destination": destination,
            }
            result = bench.worker(spec, python)
            if "error" in result:
                out["errors"][maker] = result["error"]
                _log(f"  failed: {result['error']}")
                continue
            out["made"].setdefault(maker, []).append(result)
            if index == 0:
                if maker == "lindi":  # uploaded untimed, so that reading it counts its GET
                    key = f"lindi/{file}.lindi.json"
                    bench.fs.put(destination, f"{s3bench.BUCKET}/{key}")
                    targets[maker] = bench.http(key)
                else:
                    targets[maker] = f"s3://{s3bench.BUCKET}/{key}"
                out["objects"][maker] = bench.size(key)
    targets["hdf5-s3fs"] = targets["hdf5-s3fs-1mib"] = f"s3://{s3bench.BUCKET}/{source_key}"

    for index in range(bench.args.repeat):
        for reader, (who, _label) in READERS.items():
            key = f"read {reader}"
            if key in out["errors"]:
                continue
            if reader not in targets:
                out["errors"][key] = f"no file to read ({out['errors'].get(reader, 'not made')})"
                continue
            for data in DATA_RUNS if file == "ephys" else [[]]:
                _log(f"{file}: read {reader} {' + '.join(['open', *data])}, run {index + 1} of {bench.args.repeat}")
                spec = {**base, "op": "read", "reader": reader, "target": targets[reader], "data": data}
                result = bench.worker(spec, bench.pythons[who])
                if "error" in result:
                    out["errors"][key] = result["error"]
                    _log(f"  failed: {result['error']}")
                    break
                out["read"].setdefault(reader, []).append(result)
    return out


def summarize(results: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    results = [r for r in results if phase in r["phases"]]
    times = [r["phases"][phase]["time_s"] for r in results]
    best = min(range(len(results)), key=times.__getitem__)
    empty = {"total": 0, "by_method": {}, "by_kind": {}, "bytes_by_kind": {}, "bytes_out": 0, "bytes_in": 0}
    empty.update({"hdf5_bytes": 0, "hdf5_whole_gets": 0, "peak_in_flight": 0, "server_s": 0.0})
    totals = [r["requests"].get(phase, empty)["total"] for r in results]
    return {
        "best_s": times[best],
        "median_s": statistics.median(times),
        "cpu_s": results[best]["phases"][phase]["cpu_s"],
        "requests": results[best]["requests"].get(phase, empty),
        "requests_min": min(totals),
        "requests_max": max(totals),
        "runs": len(results),
    }


def summaries(measured: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for file, found in measured.items():
        made = {maker: summarize(runs, "create") for maker, runs in found.get("made", {}).items()}
        read = {
            reader: {phase: summarize(runs, phase) for phase in dict.fromkeys(p for r in runs for p in r["phases"])}
            for reader, runs in found.get("read", {}).items()
        }
        out[file] = {"made": made, "read": read}
    return out


# ============================================================================================ report


def _mib(n: float | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / MIB:.2f} MiB" if n >= 0.01 * MIB else f"{n / 1024:.1f} KiB"


def _requests(entry: dict[str, Any]) -> str:
    low, high = entry["requests_min"], entry["requests_max"]
    return f"{entry['requests']['total']}" + (f" ({low}-{high})" if low != high else "")


def _seconds(entry: dict[str, Any]) -> str:
    return f"{entry['best_s']:.3f} ({entry['median_s']:.3f})"


def _failure(error: str | None) -> str:
    """A table cell for a row that has no figures: why, in short (the whole message is listed below the tables)."""
    if error is None:
        return "no run"
    short = error.split(" (", 1)[0]
    return short if len(short) <= 60 else short[:57] + "..."


def _detail(entry: dict[str, Any]) -> str:
    requests = entry["requests"]
    kinds = ", ".join(f"{k} {n}" for k, n in requests["by_kind"].items())
    methods = ", ".join(f"{m} {n}" for m, n in requests["by_method"].items())
    if not requests["total"]:
        return "no request"
    whole = f"; {requests['hdf5_whole_gets']} whole-object GET(s) of the HDF5" if requests["hdf5_whole_gets"] else ""
    details = f"{methods}; {kinds}{whole}; at most {requests['peak_in_flight']} at once"
    return details + f", {requests['server_s']:.2f} s summed over requests (arrival to last byte)"


def render(measured: dict[str, Any], summary: dict[str, Any], args: argparse.Namespace, info: dict[str, Any]) -> str:
    sizes, ephys = info["sizes"], info["ephys"]
    lines = [
        f"## Virtual NWB files on S3 ({'quick' if args.quick else 'full'} sizes; best of {args.repeat} run(s), "
        "interleaved, each in a fresh process; median in brackets)",
        "",
        f"moto's S3 server on 127.0.0.1; {os.cpu_count()} CPUs, {platform.platform()}; "
        f"500-object file: {sizes['n_series']} TimeSeries x {sizes['n_samples']} float64, {sizes['n_units']} units, "
        f"{sizes['n_electrodes']} electrodes; ElectricalSeries file: int16 {ephys['rows']} x {ephys['channels']} "
        f"({ephys['rows'] * ephys['channels'] * 2 / MIB:.0f} MiB raw), chunks {ephys['chunks'][0]} x "
        f"{ephys['chunks'][1]}, gzip 4",
    ]
    for name, why in info["unavailable"].items():
        lines.append(f"- {name}: not available: {why}")
    for file, title in FILES.items():
        found = measured.get(file)
        if not found:
            continue
        hdf5 = found.get("hdf5", {})
        lines += ["", f"### {title}: HDF5 object {_mib(hdf5.get('bytes'))}", ""]
        if "build" in found["errors"]:
            lines.append(f"could not build it: {found['errors']['build']}")
            continue
        lines += [
            "Making the file (JSON and Icechunk: `virtualize` from the S3 object; LINDI: from the object by HTTP, "
            "written to a local file; copy: `convert` of the local HDF5 file to Zarr on S3)",
            "",
            "| made | time s | requests | HDF5 bytes read | bytes written | result |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for maker, (_who, label) in MAKERS.items():
            entry = summary[file]["made"].get(maker)
            if entry is None:
                lines.append(f"| {label} | n/a | n/a | n/a | n/a | {_failure(found['errors'].get(maker))} |")
                continue
            traffic = entry["requests"]
            share = traffic["hdf5_bytes"] / hdf5["bytes"] if hdf5.get("bytes") else 0
            objects = found["objects"].get(maker, {})
            result = f"{objects.get('objects', '?')} object(s), {_mib(objects.get('bytes'))}"
            lines.append(
                f"| {label} | {_seconds(entry)} | {_requests(entry)} | {_mib(traffic['hdf5_bytes'])} "
                f"({share:.1%}) | {_mib(traffic['bytes_in'])} | {result} |"
            )
        lines += [
            "",
            "open + `read()`",
            "",
            "| reader | time s | requests | bytes fetched |",
            "| --- | ---: | ---: | ---: |",
        ]
        for reader, (_who, label) in READERS.items():
            entry = summary[file]["read"].get(reader, {}).get("open")
            if entry is None:
                lines.append(f"| {label} | n/a | n/a | {_failure(found['errors'].get(f'read {reader}'))} |")
                continue
            lines.append(
                f"| {label} | {_seconds(entry)} | {_requests(entry)} | {_mib(entry['requests']['bytes_out'])} |"
            )
        if file == "ephys":
            header = " | ".join(f"{DATA_PHASES[p]}: s / requests / fetched" for p in DATA_PHASES)
            lines += ["", f"| reader | {header} |", "| --- |" + " ---: |" * len(DATA_PHASES)]
            for reader, (_who, label) in READERS.items():
                phases = summary[file]["read"].get(reader)
                if phases is None:
                    continue
                cells = [
                    f"{phases[p]['best_s']:.3f} / {_requests(phases[p])} / {_mib(phases[p]['requests']['bytes_out'])}"
                    for p in DATA_PHASES
                ]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += ["", "Requests by method and object (best run):", ""]
        for maker, entry in summary[file]["made"].items():
            lines.append(f"- make {maker}: {_detail(entry)}")
        for reader, phases in summary[file]["read"].items():
            for phase, entry in phases.items():
                lines.append(f"- {reader} / {phase}: {_detail(entry)}")
        checks = {reader: _merged_checks(runs) for reader, runs in found["read"].items()}
        if len({json.dumps(check, sort_keys=True) for check in checks.values()}) > 1:
            lines += ["", f"WARNING: the readers read back different data: {checks}"]
        if found["errors"]:
            lines += ["", *[f"- {key}: failed - {error}" for key, error in found["errors"].items()]]
    return "\n".join(lines)


def _merged_checks(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a reader's runs read back (each data read's shape and sum), merged over its worker processes."""
    merged: dict[str, Any] = {}
    for result in runs:
        merged.update(result.get("check", {}))
    return merged


def _versions(python: str) -> dict[str, Any]:
    code = (
        "import json, platform; from importlib import metadata\n"
        "found = {'python': platform.python_version()}\n"
        "for d in ('hdmf-zarr', 'hdmf', 'pynwb', 'h5py', 'zarr', 'icechunk', 'moto', 's3fs', 'numpy'):\n"
        "    try: found[d] = metadata.version(d)\n"
        "    except metadata.PackageNotFoundError: found[d] = None\n"
        "print(json.dumps(found))"
    )
    ok, message = _probe(python, code)
    return json.loads(message) if ok else {"error": message}


# ============================================================================================ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 TimeSeries, a 16 MiB ElectricalSeries, one run each")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement (default 3, or 1 with --quick)")
    parser.add_argument("--only", choices=sorted(FILES), action="append", help="measure this file only (repeatable)")
    parser.add_argument("--python", metavar="PATH", default=sys.executable, help="interpreter for our workers")
    parser.add_argument("--lindi-python", metavar="PATH", help=f"an interpreter with lindi (default: {LINDI_VENV})")
    parser.add_argument("--no-lindi", action="store_true", help="leave LINDI out")
    parser.add_argument("--workdir", metavar="DIR", help="where the local files go (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per worker process")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    run.check_repeat(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    early = run.worker_or_unavailable(args, run_worker, RESULT_MARKER)
    if early is not None:
        return early
    sizes = dict(run.QUICK_SIZES if args.quick else run.FULL_SIZES)
    ephys = dict(EPHYS_QUICK if args.quick else EPHYS_FULL)
    started = _dt.datetime.now()
    lindi_python, lindi_message = ensure_lindi(args)
    _log(f"LINDI: {lindi_message}")
    unavailable: dict[str, str] = {}
    if lindi_python is None:
        unavailable["LINDI"] = lindi_message
    virtual_reason = virtual_available(args.python)
    if virtual_reason:
        unavailable["virtual files"] = virtual_reason
        _log(virtual_reason)
    skipped = {maker: virtual_reason for maker in MAKERS if virtual_reason and maker.startswith("virtual-")}
    if lindi_python is None:
        skipped["lindi"] = lindi_message
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="virtual-s3-"))
    workdir.mkdir(parents=True, exist_ok=True)
    measured: dict[str, Any] = {}
    try:
        bench = Bench(args, workdir, {"ours": args.python, "lindi": lindi_python}, skipped)
        for file in args.only or list(FILES):
            measured[file] = measure_file(bench, file, sizes, ephys)
    finally:
        s3bench.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summaries(measured)
    info = {"sizes": sizes, "ephys": ephys, "unavailable": unavailable}
    table = render(measured, summary, args, info)
    print(table)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "repeat": args.repeat,
        "sizes": sizes,
        "ephys": ephys,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": {"ours": _versions(args.python), "lindi": json.loads(lindi_message) if lindi_python else None},
        "unavailable": unavailable,
        "hdf5": {file: found.get("hdf5") for file, found in measured.items()},
        "objects": {file: found.get("objects") for file, found in measured.items()},
        "errors": {file: found.get("errors") for file, found in measured.items()},
        "summary": summary,
        "runs": {file: {"made": found.get("made"), "read": found.get("read")} for file, found in measured.items()},
        "table": table,
    }
    run.save_results("virtual-s3", started, args.quick, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
