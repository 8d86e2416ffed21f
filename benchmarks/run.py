#!/usr/bin/env python
"""Side-by-side benchmarks: hdmf_zarr (this project) vs hdmf-zarr 0.14.0 vs pynwb NWBHDF5IO vs raw zarr-python.

Run it with the project's interpreter, for example ``.venv/bin/python benchmarks/run.py``; see
``benchmarks/README.md``. Every measurement runs in a fresh subprocess. The reference hdmf-zarr runs
in its own virtual environment (``benchmarks/.venv-reference``, created on first use, or the interpreter
given with ``--reference-python``), so it is never imported next to this project's package.

This module only uses the standard library at import time: the same file is executed as the worker
under both interpreters (``run.py --worker SPEC``), and the heavy imports happen inside the workers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
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
import s3bench  # noqa: E402  (a sibling module, standard library only at import time)

RESULTS_DIR = BENCH_DIR / "results"
REFERENCE_VENV = BENCH_DIR / ".venv-reference"
REFERENCE_PACKAGE = "hdmf-zarr"
REFERENCE_VERSION = "0.14.0"
RESULT_MARKER = "@@BENCH-RESULT@@ "
MIB = 1 << 20

# --------------------------------------------------------------------------------------------- sizes

FULL_SIZES = {
    "n_series": 500,  # TimeSeries in acquisition
    "n_samples": 100,  # samples per TimeSeries
    "n_units": 500,  # rows of the Units table
    "spikes_per_unit": 100,  # spike times per unit
    "n_electrodes": 384,  # rows of the electrodes table
    "bulk_mib": 256,  # size of the int16 ElectricalSeries data
    "n_channels": 384,  # columns of the ElectricalSeries data
    "chunks": [30000, 64],  # chunk shape of the ElectricalSeries data
    "export_mib": 64,  # size of the gzip-compressed ElectricalSeries exported from HDF5
}
QUICK_SIZES = {
    "n_series": 50,
    "n_samples": 100,
    "n_units": 50,
    "spikes_per_unit": 100,
    "n_electrodes": 384,
    "bulk_mib": 32,
    "n_channels": 384,
    "chunks": [30000, 64],
    "export_mib": 16,
}

IMPL_LABELS = {
    "ours": "ours (hdmf_zarr NWBZarrIO)",
    "reference": f"reference (hdmf-zarr {REFERENCE_VERSION})",
    "hdf5": "pynwb NWBHDF5IO",
    "zarr": "raw zarr-python",
}

# name -> (title, implementations, implementation the ratio column divides by)
SCENARIOS: dict[str, tuple[str, list[str], str]] = {
    "many-write": (
        "write an NWB file with {n_series} TimeSeries x {n_samples} samples, a {n_units}-unit Units table "
        "and a {n_electrodes}-row electrodes table",
        ["ours", "reference", "hdf5"],
        "ours",
    ),
    "many-read": (
        "open + read() that many-objects file, touching nothing else",
        ["ours", "reference", "hdf5"],
        "ours",
    ),
    "bulk-write": (
        "write a {bulk_mib} MiB int16 (T, {n_channels}) ElectricalSeries, chunks {chunks}, Blosc zstd clevel 5",
        ["ours", "reference", "zarr"],
        "zarr",
    ),
    "bulk-read": (
        "read all of that ElectricalSeries data (es.data[:])",
        ["ours", "reference", "zarr"],
        "zarr",
    ),
    "gzip-export": (
        "export a {export_mib} MiB int16 (T, {n_channels}) ElectricalSeries, gzip level 4 in chunks {chunks}, "
        "from HDF5 (NWBHDF5IO) to Zarr",
        ["ours", "reference"],
        "ours",
    ),
    "many-export": (
        "export the many-objects file from HDF5 (NWBHDF5IO) to Zarr",
        ["ours", "reference"],
        "ours",
    ),
    "s3-read": (
        "open + read() of the many-objects file from S3 (moto's S3 server on 127.0.0.1, requests counted there)",
        ["ours", "reference"],
        "ours",
    ),
    "s3-write": (
        "write the many-objects file to S3 (the same local server)",
        ["ours", "reference"],
        "ours",
    ),
}

#: export scenarios: the source is an HDF5 file written (untimed) by pynwb NWBHDF5IO
EXPORT_KINDS = {"gzip": "gzip_write", "many": "many_write"}


# ============================================================================================ worker


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _maxrss_bytes() -> int:
    import resource

    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Probe:
    """CPU time (all threads of the process) and peak RSS above the starting RSS, during a block.

    On Linux the process's RSS high-water mark is reset (``/proc/self/clear_refs``) before the block, so
    the peak is the block's own; elsewhere it falls back to ``getrusage`` (the high-water mark since the
    process started, so the figure is an upper bound).
    """

    def __enter__(self) -> Probe:
        import gc

        gc.collect()
        self.method = "getrusage"
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            if _proc_status_kib("VmHWM") is not None:
                self.method = "VmHWM"
        except OSError:
            pass
        current = _proc_status_kib("VmRSS")
        self.baseline = current * 1024 if current is not None else _maxrss_bytes()
        self.cpu = _cpu_seconds()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cpu = _cpu_seconds() - self.cpu
        peak = _proc_status_kib("VmHWM") if self.method == "VmHWM" else None
        self.peak = peak * 1024 if peak is not None else _maxrss_bytes()

    def report(self) -> dict[str, Any]:
        return {
            "cpu_s": self.cpu,
            "rss_baseline_mib": self.baseline / MIB,
            "rss_peak_mib": self.peak / MIB,
            "rss_peak_above_baseline_mib": max(self.peak - self.baseline, 0) / MIB,
            "memory_method": self.method,
        }


def _versions() -> dict[str, Any]:
    from importlib import metadata

    found: dict[str, Any] = {"python": platform.python_version(), "executable": sys.executable}
    for dist in ("hdmf-zarr", "hdmf", "pynwb", "zarr", "numcodecs", "numpy", "h5py"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def _import_io(impl: str) -> dict[str, Any]:
    """The classes each implementation uses, plus where hdmf_zarr was imported from (to catch mix-ups)."""
    if impl in ("ours", "reference"):
        import hdmf_zarr
        from hdmf_zarr.nwb import NWBZarrIO
        from hdmf_zarr.utils import ZarrDataIO

        info = {"hdmf_zarr_file": hdmf_zarr.__file__, "hdmf_zarr_version": hdmf_zarr.__version__}
        is_reference = hdmf_zarr.__version__.startswith(REFERENCE_VERSION)
        if (impl == "reference") != is_reference:
            raise RuntimeError(
                f"impl {impl!r} imported hdmf_zarr {hdmf_zarr.__version__} from {hdmf_zarr.__file__}; "
                "check the interpreters used for 'ours' and 'reference'"
            )
        return {"io": NWBZarrIO, "dataio": ZarrDataIO, "info": info}
    if impl == "hdf5":
        from pynwb import NWBHDF5IO

        return {"io": NWBHDF5IO, "dataio": None, "info": {}}
    if impl == "zarr":
        import zarr

        return {"zarr": zarr, "info": {}}
    raise ValueError(f"unknown implementation {impl!r}")


def _session_start() -> Any:
    return _dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=_dt.UTC)


def _add_electrodes(nwbfile: Any, n_electrodes: int) -> None:
    device = nwbfile.create_device(name="probe", description="benchmark probe")
    group = nwbfile.create_electrode_group(name="shank0", description="benchmark shank", location="CA1", device=device)
    for i in range(n_electrodes):
        nwbfile.add_electrode(group=group, location="CA1", x=0.0, y=float(i) * 20.0, z=0.0)


def build_many_objects_nwbfile(sizes: dict[str, Any]) -> Any:
    import numpy as np
    from pynwb import NWBFile, TimeSeries

    rng = np.random.default_rng(0)
    nwbfile = NWBFile(
        session_description="hdmf_zarr benchmark: many small objects",
        identifier="hdmf-zarr-benchmark-many-objects",
        session_start_time=_session_start(),
    )
    _add_electrodes(nwbfile, sizes["n_electrodes"])
    for i in range(sizes["n_series"]):
        series = TimeSeries(
            name=f"timeseries_{i:04d}",
            data=rng.standard_normal(sizes["n_samples"]),
            unit="a.u.",
            rate=100.0,
            starting_time=0.0,
        )
        nwbfile.add_acquisition(series)
    for _ in range(sizes["n_units"]):
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(0.0, 1000.0, sizes["spikes_per_unit"])))
    return nwbfile


def bulk_shape(sizes: dict[str, Any]) -> tuple[int, int]:
    n_channels = sizes["n_channels"]
    return (sizes["bulk_mib"] * MIB) // (2 * n_channels), n_channels


def make_bulk_data(sizes: dict[str, Any]) -> Any:
    """Deterministic int16 noise (about 1.5x compressible), generated in blocks to keep the RSS peak low."""
    import numpy as np

    shape = bulk_shape(sizes)
    data = np.empty(shape, dtype=np.int16)
    rng = np.random.default_rng(1)
    block = 32768
    for start in range(0, shape[0], block):
        stop = min(start + block, shape[0])
        noise = rng.standard_normal((stop - start, shape[1]), dtype=np.float32)
        noise *= 40.0
        data[start:stop] = noise
    return data


def checksum(array: Any) -> int:
    import numpy as np

    return int(np.add.reduce(array, axis=None, dtype=np.int64))


def blosc_codec() -> Any:
    import zarr

    return zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")


def build_bulk_nwbfile(sizes: dict[str, Any], data: Any) -> Any:
    from pynwb import NWBFile
    from pynwb.ecephys import ElectricalSeries

    nwbfile = NWBFile(
        session_description="hdmf_zarr benchmark: bulk ElectricalSeries",
        identifier="hdmf-zarr-benchmark-bulk",
        session_start_time=_session_start(),
    )
    _add_electrodes(nwbfile, sizes["n_channels"])
    region = nwbfile.create_electrode_table_region(list(range(sizes["n_channels"])), "all electrodes")
    nwbfile.add_acquisition(ElectricalSeries(name="ElectricalSeries", data=data, electrodes=region, rate=30000.0))
    return nwbfile


def _timed(func: Any, profile_path: str | None) -> tuple[float, Any]:
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        start = time.perf_counter()
        result = profiler.runcall(func)
        elapsed = time.perf_counter() - start
        profiler.dump_stats(profile_path)
        return elapsed, result
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    impl, op, path, sizes = spec["impl"], spec["op"], spec["path"], spec["sizes"]
    profile = spec.get("profile")
    start = time.perf_counter()
    tools = _import_io(impl)
    import numpy as np

    result: dict[str, Any] = {"impl": impl, "op": op, "import_s": time.perf_counter() - start}
    result.update(tools["info"])
    result["versions"] = _versions()

    if op == "many_write":
        nwbfile = build_many_objects_nwbfile(sizes)
        io_class = tools["io"]

        def work() -> None:
            with io_class(path, mode="w") as io:
                io.write(nwbfile)

        with Probe() as memory:
            elapsed, _ = _timed(work, profile)

    elif op == "many_read":
        io_class = tools["io"]
        holder: list[Any] = []

        def work() -> Any:
            io = io_class(path, mode="r")
            holder.append(io)
            return io.read()

        with Probe() as memory:
            elapsed, nwbfile = _timed(work, profile)
        result["check"] = {"acquisition": len(nwbfile.acquisition), "units": len(nwbfile.units.id)}
        holder[0].close()

    elif op == "bulk_write":
        data = make_bulk_data(sizes)
        result["checksum"] = checksum(data)
        result["data_mib"] = data.nbytes / MIB
        chunks = tuple(sizes["chunks"])
        if impl == "zarr":
            zarr = tools["zarr"]

            def work() -> None:
                array = zarr.create_array(
                    store=path, shape=data.shape, dtype=data.dtype, chunks=chunks, compressors=[blosc_codec()]
                )
                array[:] = data

        else:
            wrapped = tools["dataio"](data=data, chunks=chunks, compressors=[blosc_codec()])
            nwbfile = build_bulk_nwbfile(sizes, wrapped)
            io_class = tools["io"]

            def work() -> None:
                with io_class(path, mode="w") as io:
                    io.write(nwbfile)

        with Probe() as memory:
            elapsed, _ = _timed(work, profile)

    elif op == "gzip_write":  # the source of gzip-export, written with NWBHDF5IO (never timed for a table)
        from hdmf.backends.hdf5 import H5DataIO

        export_sizes = {**sizes, "bulk_mib": sizes["export_mib"]}
        data = make_bulk_data(export_sizes)
        result["checksum"] = checksum(data)
        chunks = tuple(min(c, n) for c, n in zip(sizes["chunks"], data.shape))
        wrapped = H5DataIO(data, chunks=chunks, compression="gzip", compression_opts=4)
        nwbfile = build_bulk_nwbfile(export_sizes, wrapped)
        io_class = tools["io"]

        def work() -> None:
            with io_class(path, mode="w") as io:
                io.write(nwbfile)

        with Probe() as memory:
            elapsed, _ = _timed(work, profile)

    elif op in ("s3_read", "s3_write"):
        io_class, options = tools["io"], spec["storage_options"]
        opened: list[Any] = []
        if op == "s3_write":
            nwbfile = build_many_objects_nwbfile(sizes)

            def work() -> Any:
                with io_class(path, mode="w", storage_options=options) as io:
                    io.write(nwbfile)

        else:

            def work() -> Any:
                io = io_class(path, mode="r", storage_options=options)
                opened.append(io)
                return io.read()

        with Probe() as memory:
            elapsed, read = _timed(work, profile)
        if opened:
            result["check"] = {"acquisition": len(read.acquisition), "units": len(read.units.id)}
            opened[0].close()

    elif op in ("gzip_export", "many_export"):
        from pynwb import NWBHDF5IO

        io_class, source = tools["io"], spec["source"]

        def work() -> None:
            with NWBHDF5IO(source, mode="r") as src, io_class(path, mode="w") as dst:
                dst.export(src_io=src, write_args={"link_data": False})

        with Probe() as memory:
            elapsed, _ = _timed(work, profile)
        with io_class(path, mode="r") as io:  # untimed: check what was written
            nwbfile = io.read()
            if op == "gzip_export":
                result["checksum"] = checksum(np.asarray(nwbfile.acquisition["ElectricalSeries"].data[:]))
            else:
                result["check"] = {"acquisition": len(nwbfile.acquisition), "units": len(nwbfile.units.id)}

    elif op == "bulk_read":
        if impl == "zarr":
            source = tools["zarr"].open_array(path, mode="r")
            io = None
        else:
            io = tools["io"](path, mode="r")
            source = io.read().acquisition["ElectricalSeries"].data

        def work() -> Any:
            return source[:]

        with Probe() as memory:
            elapsed, values = _timed(work, profile)
        values = np.asarray(values)
        result["checksum"] = checksum(values)
        result["data_mib"] = values.nbytes / MIB
        result["check"] = {"shape": list(values.shape), "dtype": str(values.dtype), "type": type(source).__name__}
        del values
        if io is not None:
            io.close()
    else:
        raise ValueError(f"unknown operation {op!r}")

    result["time_s"] = elapsed
    result.update(memory.report())
    if hasattr(os, "getloadavg"):
        result["load_1min"] = os.getloadavg()[0]
    return result


# ============================================================================================ parent


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # never let one implementation's sources leak into the other's process
    env["PYTHONNOUSERSITE"] = "1"
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # S3 clients: never look for credentials on a network
    return env


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _probe_reference(python: str) -> tuple[bool, str]:
    code = "import json, hdmf_zarr; print(json.dumps([hdmf_zarr.__version__, hdmf_zarr.__file__]))"
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=300, env=_child_env(), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"cannot run {python}: {err}"
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"{python} cannot import hdmf_zarr ({tail})"
    version, where = json.loads(done.stdout.strip().splitlines()[-1])
    if not version.startswith(REFERENCE_VERSION):
        return False, f"{python} has hdmf_zarr {version} ({where}), not the reference {REFERENCE_VERSION}"
    return True, f"hdmf_zarr {version} at {where}"


def ensure_reference_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """The interpreter that runs the reference, or None and the reason it is unavailable."""
    if args.no_reference:
        return None, "skipped (--no-reference)"
    if args.reference_python:
        python = os.path.abspath(args.reference_python) if os.sep in args.reference_python else args.reference_python
        ok, message = _probe_reference(python)  # absolute: the workers run in another folder
        return (python, message) if ok else (None, message)
    python = _venv_python(REFERENCE_VENV)
    if python.exists():
        ok, message = _probe_reference(str(python))
        if ok:
            return str(python), message
        _log(f"reference venv {REFERENCE_VENV} is unusable ({message}); recreating it")
        shutil.rmtree(REFERENCE_VENV, ignore_errors=True)
    _log(f"creating the reference venv {REFERENCE_VENV} (pip install {REFERENCE_PACKAGE}=={REFERENCE_VERSION}) ...")
    steps = [
        [sys.executable, "-m", "venv", str(REFERENCE_VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--retries",
            "1",
            "--timeout",
            "30",
            f"{REFERENCE_PACKAGE}=={REFERENCE_VERSION}",
        ],
    ]
    for command in steps:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=_child_env(), check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            shutil.rmtree(REFERENCE_VENV, ignore_errors=True)
            return None, f"could not create the reference venv: {err}"
        if done.returncode != 0:
            shutil.rmtree(REFERENCE_VENV, ignore_errors=True)
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()] or ["no error output"]
            return None, f"could not create the reference venv ({' '.join(command[:4])} ...): {lines[-1]}"
    ok, message = _probe_reference(str(python))
    return (str(python), message) if ok else (None, message)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, args: argparse.Namespace, sizes: dict[str, Any], workdir: Path, pythons: dict[str, Any]):
        self.args = args
        self.sizes = sizes
        self.workdir = workdir
        self.pythons = pythons  # impl -> interpreter path, or None
        self.unavailable: dict[str, str] = {}
        self.files: dict[tuple[str, str], str] = {}  # (dataset kind, impl) -> path of a written file

    def _path(self, kind: str, impl: str, tag: str) -> str:
        suffix = ".nwb" if impl == "hdf5" else (".zarr" if impl == "zarr" else ".nwb.zarr")
        return str(self.workdir / kind / f"{impl}-{tag}{suffix}")

    def worker(
        self,
        impl: str,
        op: str,
        path: str,
        profile: str | None = None,
        source: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        spec = {"impl": impl, "op": op, "path": path, "sizes": self.sizes, "profile": profile, "source": source}
        spec.update(extra or {})
        command = [self.pythons[impl], str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=self.args.timeout,
                env=_child_env(),
                cwd=self.workdir,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.args.timeout} s"}
        for line in reversed(done.stdout.splitlines()):
            if line.startswith(RESULT_MARKER):
                result = json.loads(line[len(RESULT_MARKER) :])
                result["process_s"] = time.perf_counter() - started
                return result
        tail = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        return {"error": f"worker exited with {done.returncode}: " + (tail[-1] if tail else "no output")}

    def _write_op(self, kind: str) -> str:
        if kind == "gzip":
            return "gzip_write"
        return "many_write" if kind == "many" else "bulk_write"

    def ensure_file(self, kind: str, impl: str) -> tuple[str | None, str | None]:
        """A file of ``kind`` written by ``impl`` (reusing the write scenario's output when it ran)."""
        if (kind, impl) in self.files:
            return self.files[(kind, impl)], None
        path = self._path(kind, impl, "setup")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _log(f"  setup: writing the {kind} file with {impl} (untimed)")
        result = self.worker(impl, self._write_op(kind), path)
        if "error" in result:
            return None, f"setup write failed: {result['error']}"
        self.files[(kind, impl)] = path
        return path, None

    def measure(self, scenario: str) -> dict[str, dict[str, Any]]:
        """All implementations of one scenario, interleaved: run 1 of each, then run 2 of each, ...

        Interleaving spreads any background load over the implementations instead of over one of them.
        """
        kind, action = scenario.split("-")
        if kind == "s3":
            return s3bench.measure(self, scenario, SCENARIOS, summarize, _log)
        op = f"{kind}_{action}"
        impls = SCENARIOS[scenario][1]
        failed: dict[str, dict[str, Any]] = {}
        for impl in impls:
            if self.pythons.get(impl) is None:
                failed[impl] = {"error": self.unavailable.get(impl, "interpreter unavailable"), "unavailable": True}
            elif action == "read":
                _, error = self.ensure_file(kind, impl)
                if error:
                    failed[impl] = {"error": error}
            elif action == "export":
                _, error = self.ensure_file(kind, "hdf5")
                if error:
                    failed[impl] = {"error": error}
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
        repeat = self.args.repeat
        for index in range(repeat):
            for impl in impls:
                if impl in failed:
                    continue
                source = None
                if action in ("write", "export"):
                    path = self._path(kind, impl, f"run{index}" if action == "write" else f"export{index}")
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    if action == "export":
                        source = self.files[(kind, "hdf5")]
                else:
                    path = self.files[(kind, impl)]
                _log(f"  {scenario} / {impl}: run {index + 1} of {repeat}")
                result = self.worker(impl, op, path, source=source)
                if "error" in result:
                    failed[impl] = {"error": result["error"], "runs": runs[impl]}
                    continue
                runs[impl].append(result)
                if action == "export":
                    _remove(path)
                if action == "write":
                    previous = self.files.get((kind, impl))
                    self.files[(kind, impl)] = path  # the newest file serves the read scenario
                    if previous and previous != path:
                        _remove(previous)
        measured = {impl: failed[impl] if impl in failed else summarize(runs[impl]) for impl in impls}
        if self.args.profile and "ours" not in failed:
            measured["ours"]["profile"] = self.profile(scenario, kind, action)
        return measured

    def profile(self, scenario: str, kind: str, action: str) -> dict[str, Any]:
        profile_path = RESULTS_DIR / f"profile-{scenario}-ours.prof"
        fresh = action in ("write", "export")
        path = self._path(kind, "ours", "profile") if fresh else self.files[(kind, "ours")]
        source = self.files[(kind, "hdf5")] if action == "export" else None
        _log(f"  {scenario} / ours: profiling run (cProfile) -> {profile_path}")
        result = self.worker("ours", f"{kind}_{action}", path, profile=str(profile_path), source=source)
        if fresh:
            _remove(path)
        if "error" in result:
            return {"error": result["error"]}
        top = top_functions(profile_path, self.args.profile_top)
        return {"file": str(profile_path), "time_s": result["time_s"], "top": top}


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        Path(path).unlink(missing_ok=True)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    times = [run["time_s"] for run in runs]
    best = min(range(len(runs)), key=lambda i: times[i])
    peaks = [run["rss_peak_above_baseline_mib"] for run in runs]
    keep = (
        "hdmf_zarr_version",
        "hdmf_zarr_file",
        "versions",
        "data_mib",
        "checksum",
        "check",
        "memory_method",
        "requests",
    )
    summary = {key: runs[best][key] for key in keep if key in runs[best]}
    summary.update(
        {
            "best_s": times[best],
            "median_s": statistics.median(times),
            "times_s": times,
            "import_s": statistics.median(run["import_s"] for run in runs),
            "cpu_s": runs[best]["cpu_s"],
            "load_1min_max": max((run.get("load_1min", 0.0) for run in runs), default=0.0),
            "rss_peak_above_baseline_mib": max(peaks),
            "rss_peak_mib": max(run["rss_peak_mib"] for run in runs),
            "runs": runs,
        }
    )
    return summary


def top_functions(profile_path: Path, count: int) -> dict[str, list[dict[str, Any]]]:
    """The functions with the most own time, and this project's functions with the most cumulative time."""
    import pstats

    stats = pstats.Stats(str(profile_path))
    rows = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        rows.append(
            {
                "function": f"{_short_path(filename)}:{line}({name})",
                "file": filename,
                "ncalls": ncalls,
                "tottime": tottime,
                "cumtime": cumtime,
            }
        )
    by_own_time = sorted(rows, key=lambda row: row["tottime"], reverse=True)[:count]
    ours = [row for row in rows if "/hdmf_zarr/" in row["file"] and "site-packages" not in row["file"]]
    by_cumulative = sorted(ours, key=lambda row: row["cumtime"], reverse=True)[:count]
    return {"by_tottime": by_own_time, "hdmf_zarr_by_cumtime": by_cumulative}


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# ============================================================================================ report


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + unit


def render(
    results: dict[str, Any], sizes: dict[str, Any], args: argparse.Namespace, unavailable: dict[str, str]
) -> str:
    lines: list[str] = []
    mode = "quick sizes" if args.quick else "full sizes"
    lines.append(
        f"hdmf_zarr benchmarks ({mode}; best of {args.repeat} run(s), each in a fresh process; "
        f"{os.cpu_count()} CPUs, {platform.platform()})"
    )
    chunk_mib = sizes["chunks"][0] * sizes["chunks"][1] * 2 / MIB
    for scenario, measured in results.items():
        title, impls, baseline = SCENARIOS[scenario]
        lines.append("")
        lines.append(f"{scenario}: {title.format(**sizes)}")
        header = (
            f"  {'implementation':<32}{'best s':>10}{'median s':>10}{'vs ' + baseline:>11}"
            f"{'cpu s':>9}{'peak RSS +MiB':>15}"
        )
        lines.append(header)
        base = measured.get(baseline, {}).get("best_s")
        for impl in impls:
            entry = measured.get(impl, {})
            label = IMPL_LABELS[impl]
            if "error" in entry:
                lines.append(
                    f"  {label:<32}{'n/a':>10}{'n/a':>10}{'n/a':>11}{'n/a':>9}{'n/a':>15}   ({entry['error']})"
                )
                continue
            ratio = entry["best_s"] / base if base else None
            lines.append(
                f"  {label:<32}{entry['best_s']:>10.3f}{entry['median_s']:>10.3f}"
                f"{_fmt(ratio, '.2f', 'x'):>11}{entry['cpu_s']:>9.2f}{entry['rss_peak_above_baseline_mib']:>15.1f}"
            )
        if scenario == "bulk-write":
            lines.append(
                f"  (data {sizes['bulk_mib']} MiB, one chunk {chunk_mib:.2f} MiB; peak RSS +MiB is above the RSS"
            )
            lines.append("   just before the timed write, which already holds the data)")
        elif scenario == "bulk-read":
            lines.append(f"  (peak RSS +MiB includes the {sizes['bulk_mib']} MiB result array)")
        elif scenario == "gzip-export":
            lines.append(f"  (one chunk {chunk_mib:.2f} MiB; peak RSS +MiB includes reading the NWB file with pynwb)")
        elif scenario.startswith("s3-"):
            lines.extend(s3bench.render_requests(measured, impls, IMPL_LABELS))
    lines.append("")
    lines.append("Targets:")
    lines.extend("  " + line for line in check_targets(results, chunk_mib))
    loads = [e.get("load_1min_max", 0.0) for m in results.values() for e in m.values() if isinstance(e, dict)]
    cpus = os.cpu_count() or 1
    if loads and max(loads) > cpus:
        lines.append("")
        lines.append(
            f"WARNING: the machine was busy (1-minute load average up to {max(loads):.1f} on {cpus} CPUs); "
            "wall times are noisy, compare 'cpu s' too and rerun on a quiet machine."
        )
    if unavailable:
        lines.append("")
        for impl, reason in unavailable.items():
            lines.append(f"{IMPL_LABELS[impl]}: n/a - {reason}")
    return "\n".join(lines)


def _best(results: dict[str, Any], scenario: str, impl: str) -> float | None:
    return results.get(scenario, {}).get(impl, {}).get("best_s")


def check_targets(results: dict[str, Any], chunk_mib: float) -> list[str]:
    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    lines = []
    if "many-write" in results:
        ours, ref = _best(results, "many-write", "ours"), _best(results, "many-write", "reference")
        speedup = ref / ours if ours and ref else None
        ok = None if speedup is None else speedup >= 10
        lines.append(f"many-write  reference / ours = {_fmt(speedup, '.1f', 'x')}   (target >= 10x)   {verdict(ok)}")
    if "many-read" in results:
        ours, hdf5 = _best(results, "many-read", "ours"), _best(results, "many-read", "hdf5")
        ratio = ours / hdf5 if ours and hdf5 else None
        ok = None if ratio is None else ratio < 1
        lines.append(f"many-read   ours / NWBHDF5IO = {_fmt(ratio, '.2f', 'x')}   (target < 1x)   {verdict(ok)}")
    if "bulk-write" in results:
        ours, raw = _best(results, "bulk-write", "ours"), _best(results, "bulk-write", "zarr")
        ratio = ours / raw if ours and raw else None
        ok = None if ratio is None else ratio <= 1.1
        lines.append(f"bulk-write  ours / raw zarr = {_fmt(ratio, '.2f', 'x')}   (target <= 1.1x)   {verdict(ok)}")
        ours_mem = results["bulk-write"].get("ours", {}).get("rss_peak_above_baseline_mib")
        raw_mem = results["bulk-write"].get("zarr", {}).get("rss_peak_above_baseline_mib")
        if ours_mem is not None:
            lines.append(
                f"bulk-write  ours peak RSS above the data = {ours_mem:.1f} MiB = {ours_mem / chunk_mib:.1f} chunks "
                f"(raw zarr: {_fmt(raw_mem, '.1f')} MiB; target: a few chunks, no copy of the data)"
            )
    if "bulk-read" in results:
        ours, raw = _best(results, "bulk-read", "ours"), _best(results, "bulk-read", "zarr")
        ratio = ours / raw if ours and raw else None
        ok = None if ratio is None else ratio <= 1.1
        lines.append(f"bulk-read   ours / raw zarr = {_fmt(ratio, '.2f', 'x')}   (target <= 1.1x)   {verdict(ok)}")
    for scenario, label in (("gzip-export", "gzip-export"), ("many-export", "many-export")):
        if scenario not in results:
            continue
        ours, ref = _best(results, scenario, "ours"), _best(results, scenario, "reference")
        speedup = ref / ours if ours and ref else None
        ok = None if speedup is None else speedup >= 5
        lines.append(f"{label} reference / ours = {_fmt(speedup, '.1f', 'x')}   (target >= 5x)   {verdict(ok)}")
        if scenario == "gzip-export":
            mem = results[scenario].get("ours", {}).get("rss_peak_above_baseline_mib")
            ref_mem = results[scenario].get("reference", {}).get("rss_peak_above_baseline_mib")
            if mem is not None:
                lines.append(
                    f"gzip-export ours peak RSS = {mem:.1f} MiB = {mem / chunk_mib:.1f} chunks "
                    f"(reference: {_fmt(ref_mem, '.1f')} MiB; target: a few chunks, whatever the data size)"
                )
    lines.extend(s3bench.targets(results, verdict, _best, _fmt))
    for scenario in ("bulk-write", "bulk-read", "gzip-export"):
        sums = {impl: e.get("checksum") for impl, e in results.get(scenario, {}).items() if "checksum" in e}
        if len(set(sums.values())) > 1:
            lines.append(f"WARNING: {scenario} checksums differ between implementations: {sums}")
    return lines


def render_profiles(results: dict[str, Any]) -> str:
    lines = []
    for scenario, measured in results.items():
        profile = measured.get("ours", {}).get("profile")
        if not profile or "error" in profile:
            continue
        lines.append("")
        lines.append(f"cProfile of ours, {scenario} ({profile['time_s']:.3f} s under the profiler; {profile['file']})")
        for key, heading in (
            ("by_tottime", "most own time (all code)"),
            ("hdmf_zarr_by_cumtime", "most cumulative time (hdmf_zarr only)"),
        ):
            lines.append(f"  {heading}:")
            lines.append(f"  {'tottime':>8} {'cumtime':>8} {'ncalls':>9}  function")
            for row in profile["top"][key]:
                lines.append(f"  {row['tottime']:>8.3f} {row['cumtime']:>8.3f} {row['ncalls']:>9}  {row['function']}")
        lines.append(
            "  (since Python 3.12 cProfile records every thread: zarr's event-loop and codec threads are included,"
        )
        lines.append("   so a function that waits on them can show less cumulative than own time across threads)")
    return "\n".join(lines)


# ============================================================================================ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one run each, for smoke tests")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement (default 3, or 1 with --quick)")
    parser.add_argument(
        "--reference-python", metavar="PATH", help=f"interpreter that has hdmf-zarr {REFERENCE_VERSION} installed"
    )
    parser.add_argument("--no-reference", action="store_true", help="do not measure the reference hdmf-zarr")
    parser.add_argument("--python", metavar="PATH", default=sys.executable, help="interpreter for ours/hdf5/zarr")
    parser.add_argument("--workdir", metavar="DIR", help="where to write the files (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the written files")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per worker process")
    parser.add_argument("--profile", action="store_true", help="also cProfile one extra run of ours per scenario")
    parser.add_argument("--profile-top", type=int, default=25, help="functions to list per profile")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_repeat(parser, args)
    return args


def save_results(name: str, started: _dt.datetime, quick: bool, document: dict[str, Any]) -> Path:
    """Write a benchmark's results to ``results/<name>-<date>-<time>[-quick].json`` and say where."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    output = RESULTS_DIR / f"{name}-{started.strftime('%Y%m%d-%H%M%S')}{'-quick' if quick else ''}.json"
    output.write_text(json.dumps(document, indent=2, default=str))
    print(f"\nresults written to {output}")
    return output


def worker_or_unavailable(args: argparse.Namespace, worker: Any, marker: str) -> int | None:
    """For the S3 benchmarks' ``main``: 0 when this process ran as a worker, 1 when S3 cannot run here (said on
    stderr), None to go on."""
    if answered_as_worker(args, worker, marker):
        return 0
    reason = s3bench.available()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    return None


def check_repeat(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--repeat``: 3 runs by default (1 with ``--quick``), at least 1."""
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")


def answered_as_worker(args: argparse.Namespace, worker: Any, marker: str = RESULT_MARKER) -> bool:
    """In a worker process (``--worker SPEC``): run ``worker(spec)``, print its result after ``marker``; True."""
    if not args.worker:
        return False
    print(marker + json.dumps(worker(json.loads(args.worker))), flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if answered_as_worker(args, run_worker):
        return 0

    sizes = dict(QUICK_SIZES if args.quick else FULL_SIZES)
    scenarios = [name for name in SCENARIOS if not args.only or name in args.only]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)

    pythons: dict[str, Any] = {"ours": args.python, "hdf5": args.python, "zarr": args.python}
    unavailable: dict[str, str] = {}
    if any("reference" in SCENARIOS[name][1] for name in scenarios):
        reference_python, message = ensure_reference_python(args)
        pythons["reference"] = reference_python
        if reference_python is None:
            unavailable["reference"] = message
            _log(f"reference: n/a - {message}")
        else:
            _log(f"reference: {reference_python} ({message})")

    if args.workdir or args.keep:
        workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hdmf-zarr-bench-")).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        cleanup: Any = contextlib.nullcontext(workdir)
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="hdmf-zarr-bench-", ignore_cleanup_errors=True)
    started = _dt.datetime.now()
    with cleanup as where:
        workdir = Path(where)
        runner = Runner(args, sizes, workdir, pythons)
        runner.unavailable = unavailable
        results: dict[str, Any] = {}
        try:
            for scenario in scenarios:
                _log(f"scenario {scenario}")
                results[scenario] = runner.measure(scenario)
        finally:
            s3bench.stop()
        if args.keep or args.workdir:
            _log(f"files kept in {workdir}")

    table = render(results, sizes, args, unavailable)
    print(table)
    if args.profile:
        print(render_profiles(results))
    document = {
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeat": args.repeat,
        "sizes": sizes,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "interpreters": pythons,
        "unavailable": unavailable,
        "results": results,
        "table": table,
    }
    save_results("bench", started, args.quick, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
