#!/usr/bin/env python
"""Icechunk on S3 next to consolidated Zarr on S3: time and requests of write, open + read() and reading the data.

Run it with the project's interpreter, ``.venv/bin/python benchmarks/icechunk_s3.py``; see ``benchmarks/README.md``
("Icechunk on S3"). The many-objects NWB file of ``run.py`` goes to moto's S3 server on 127.0.0.1
(``hdmf_zarr.testing.s3server.LocalS3Server``, in this process), once as this project's consolidated Zarr and once
per inline-chunk threshold as an Icechunk repository. Every measurement runs in a fresh worker process. The worker
sends a marker request (``HEAD /bench/__mark__/<phase>``) before and after each timed phase, and the server's log of
requests, split at the markers, gives the requests of each phase exactly; the markers themselves are not counted.

Only the standard library is imported at module level (the same file runs as the worker).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import run  # noqa: E402  (sibling module: the many-objects file, Probe; standard library only at import time)
import s3bench  # noqa: E402

RESULT_MARKER = "@@ICECHUNK-S3-RESULT@@ "
MARK = "__mark__"
#: Icechunk's RepositoryConfig.inline_chunk_threshold_bytes is an unsigned 16-bit number: 65535 is the most it takes
THRESHOLDS = [0, 512, 1024, 4096, 65535]
#: keys a reader looks for to tell a Zarr store from something else (not Icechunk's)
ZARR_PROBES = ("zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata")
PHASES = {"write": ["write"], "read": ["open", "data"]}


# ============================================================================================ worker


def _mark(endpoint: str, phase: str) -> None:
    """One request the parent recognises in the server's log: what follows belongs to ``phase``."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/{s3bench.BUCKET}/{MARK}/{phase}", method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=30).close()
    except urllib.error.HTTPError:
        pass  # 404: the marker is only there to be logged


def _storage(spec: dict[str, Any]) -> Any:
    import icechunk

    options = spec["storage_options"]
    return icechunk.s3_storage(
        bucket=s3bench.BUCKET,
        prefix=spec["prefix"],
        endpoint_url=spec["endpoint"],
        allow_http=True,
        force_path_style=True,
        access_key_id=options["key"],
        secret_access_key=options["secret"],
        region="us-east-1",
    )


def _phase(spec: dict[str, Any], phase: str, work: Any) -> tuple[dict[str, Any], Any]:
    """Time ``work()`` (wall and CPU) between the markers of ``phase`` and ``end``."""
    _mark(spec["endpoint"], phase)
    with run.Probe() as probe:
        start = time.perf_counter()
        value = work()
        elapsed = time.perf_counter() - start
    _mark(spec["endpoint"], "end")
    return {"time_s": elapsed, "cpu_s": probe.cpu}, value


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    import icechunk
    import numpy as np
    from pynwb import TimeSeries

    from hdmf_zarr import NWBZarrIO

    result: dict[str, Any] = {"import_s": time.perf_counter() - start, "phases": {}}
    url, options = f"s3://{s3bench.BUCKET}/{spec['prefix']}", spec["storage_options"]
    if spec["op"] == "write":
        nwbfile = run.build_many_objects_nwbfile(spec["sizes"])

        def write() -> None:
            if spec["store"] == "zarr":
                with NWBZarrIO(url, "w", storage_options=options) as io:
                    io.write(nwbfile)
                return
            config = icechunk.RepositoryConfig(inline_chunk_threshold_bytes=spec["threshold"])
            repo = icechunk.Repository.create(_storage(spec), config=config)
            with NWBZarrIO(repo, "w") as io:  # close() commits
                io.write(nwbfile)

        result["phases"]["write"], _ = _phase(spec, "write", write)
        return result

    def open_and_read() -> tuple[Any, Any]:
        if spec["how"] == "repository":
            io = NWBZarrIO(icechunk.Repository.open(_storage(spec)), "r")
        else:  # a URL: this project's path detection finds the repository (or the consolidated Zarr)
            io = NWBZarrIO(url, "r", storage_options=options)
        return io, io.read()

    result["phases"]["open"], (io, nwbfile) = _phase(spec, "open", open_and_read)
    series = [obj for obj in nwbfile.acquisition.values() if isinstance(obj, TimeSeries)]
    result["phases"]["data"], values = _phase(spec, "data", lambda: [np.asarray(ts.data[:]) for ts in series])
    result["check"] = {
        "timeseries": len(values),
        "values": int(sum(v.size for v in values)),
        "sum": float(sum(float(v.sum()) for v in values)),
        "units": len(nwbfile.units.id),
    }
    io.close()
    return result


# ============================================================================================ parent


def _log(message: str) -> None:
    print(f"[icechunk-s3] {message}", file=sys.stderr, flush=True)


def _kind(store: str, key: str) -> str:
    """What an object (or a request's target) under a store's prefix is."""
    if store == "icechunk":
        top = key.split("/", 1)[0]
        if top in ZARR_PROBES:
            return "zarr probes"
        return top if "/" in key or top in ("repo", "config.yaml") else "other"
    return "metadata" if key.rsplit("/", 1)[-1] == "zarr.json" else "chunks"


def split_requests(lines: list[str], store: str, prefix: str) -> dict[str, dict[str, Any]]:
    """The server's log lines ("METHOD /bucket/key?query") split at the markers: per phase, by method and kind."""
    phases: dict[str, dict[str, Counter]] = {}
    current = "before"
    base = f"/{s3bench.BUCKET}/{prefix}/"
    for line in lines:
        method, _, target = line.partition(" ")
        path, _, query = target.partition("?")
        if path.startswith(f"/{s3bench.BUCKET}/{MARK}/"):
            current = path.rsplit("/", 1)[1]
            continue
        counts = phases.setdefault(current, {"by_method": Counter(), "by_kind": Counter()})
        counts["by_method"][method] += 1
        if path.startswith(base):
            kind = _kind(store, path[len(base) :])
        else:
            kind = "list" if "list-type" in query or "prefix=" in query else "bucket"
        counts["by_kind"][kind] += 1
    return {
        phase: {
            "total": sum(c["by_method"].values()),
            "by_method": dict(sorted(c["by_method"].items())),
            "by_kind": dict(sorted(c["by_kind"].items())),
        }
        for phase, c in phases.items()
    }


def list_objects(prefix: str, store: str) -> dict[str, Any]:
    """Count and size of the objects under ``prefix``, by kind (Icechunk: chunks, manifests, snapshots ...)."""
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3bench.server().storage_options())
    found = fs.find(f"{s3bench.BUCKET}/{prefix}", detail=True)
    counts: Counter = Counter()
    sizes: Counter = Counter()
    largest: Counter = Counter()
    for key, info in found.items():
        kind = _kind(store, key.split(f"{prefix}/", 1)[1])
        size = int(info.get("size") or info.get("Size") or 0)
        counts[kind] += 1
        sizes[kind] += size
        largest[kind] = max(largest[kind], size)
    return {
        "objects": sum(counts.values()),
        "bytes": sum(sizes.values()),
        "count_by_kind": dict(sorted(counts.items())),
        "bytes_by_kind": dict(sorted(sizes.items())),
        "largest_by_kind": dict(sorted(largest.items())),
    }


class Bench:
    def __init__(self, args: argparse.Namespace, sizes: dict[str, Any]) -> None:
        self.args = args
        self.sizes = sizes
        self.server = s3bench.server()
        self.options = self.server.storage_options()

    def worker(self, spec: dict[str, Any]) -> dict[str, Any]:
        spec = {**spec, "sizes": self.sizes, "endpoint": self.server.endpoint, "storage_options": self.options}
        command = [self.args.python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
        self.server.requests.reset()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.args.timeout, env=run._child_env(), check=False
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.args.timeout} s"}
        with self.server.requests.lock:
            lines = list(self.server.requests.lines)
        for line in reversed(done.stdout.splitlines()):
            if line.startswith(RESULT_MARKER):
                result = json.loads(line[len(RESULT_MARKER) :])
                result["process_s"] = time.perf_counter() - started
                result["requests"] = split_requests(lines, spec["store"], spec["prefix"])
                return result
        tail = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        return {"error": f"worker exited with {done.returncode}: " + (tail[-1] if tail else "no output")}


def _variants(thresholds: list[int]) -> dict[str, list[dict[str, Any]]]:
    writes = [{"name": "zarr", "store": "zarr", "threshold": None}]
    writes += [{"name": f"icechunk-{t}", "store": "icechunk", "threshold": t} for t in thresholds]
    reads = [{**writes[0], "how": "url"}]
    reads += [{**w, "how": how} for w in writes[1:] for how in ("url", "repository")]
    return {"write": writes, "read": reads}


def _prefix(variant: dict[str, Any], index: int) -> str:
    return f"{variant['name']}-w{index}" + (".nwb.zarr" if variant["store"] == "zarr" else ".icechunk")


def _key(variant: dict[str, Any], op: str) -> str:
    return variant["name"] if op == "write" else f"{variant['name']}/{variant['how']}"


def measure(bench: Bench, thresholds: list[int], repeat: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every write (``repeat`` runs, interleaved), then every read of the first run's stores; the objects stored."""
    variants = _variants(thresholds)
    runs: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    objects: dict[str, Any] = {}
    for op in ("write", "read"):
        for index in range(repeat):
            for variant in variants[op]:
                key = _key(variant, op)
                if key in errors or variant["name"] in errors:
                    continue
                prefix = _prefix(variant, index if op == "write" else 0)
                _log(f"{op} {key}: run {index + 1} of {repeat}")
                spec = {"op": op, "prefix": prefix, **{k: v for k, v in variant.items() if k != "name"}}
                result = bench.worker(spec)
                if "error" in result:
                    errors[variant["name"] if op == "write" else key] = result["error"]
                    _log(f"  failed: {result['error']}")
                    continue
                runs.setdefault(key, []).append(result)
                if op == "write" and index == 0:
                    objects[variant["name"]] = list_objects(prefix, variant["store"])
    return {"runs": runs, "errors": errors, "objects": objects}, variants


def summarize(results: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    times = [r["phases"][phase]["time_s"] for r in results]
    best = min(range(len(results)), key=times.__getitem__)
    totals = [r["requests"].get(phase, {}).get("total", 0) for r in results]
    return {
        "best_s": times[best],
        "median_s": statistics.median(times),
        "cpu_s": results[best]["phases"][phase]["cpu_s"],
        "requests": results[best]["requests"].get(phase, {"total": 0, "by_method": {}, "by_kind": {}}),
        "requests_min": min(totals),
        "requests_max": max(totals),
    }


def summaries(measured: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, results in measured["runs"].items():
        op = "read" if "/" in key else "write"
        out[key] = {phase: summarize(results, phase) for phase in PHASES[op]}
    return out


# ============================================================================================ report


def _label(variant: dict[str, Any], default: int | None) -> str:
    if variant["store"] == "zarr":
        return "consolidated Zarr"
    note = " (default)" if variant["threshold"] == default else ""
    how = {"url": ", by URL", "repository": ", by Repository"}.get(variant.get("how", ""), "")
    return f"Icechunk T={variant['threshold']}{note}{how}"


def _requests_cell(entry: dict[str, Any]) -> str:
    low, high = entry["requests_min"], entry["requests_max"]
    spread = f" ({low}-{high})" if low != high else ""
    return f"{entry['requests']['total']}{spread}"


def _methods(entry: dict[str, Any]) -> str:
    return ", ".join(f"{m} {n}" for m, n in entry["requests"]["by_method"].items())


def _kinds(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k} {n}" for k, n in entry["requests"]["by_kind"].items())


def _section(title: str, rows: list[tuple[str, dict[str, Any] | None, str | None]]) -> list[str]:
    lines = ["", title]
    lines.append(f"  {'store':<38}{'best s':>8}{'median s':>10}{'cpu s':>8}{'requests':>10}   by method; by object")
    for label, entry, error in rows:
        if entry is None:
            lines.append(f"  {label:<38}{'n/a':>8}{'n/a':>10}{'n/a':>8}{'n/a':>10}   ({error})")
            continue
        detail = _methods(entry) + "; " + _kinds(entry)
        lines.append(
            f"  {label:<38}{entry['best_s']:>8.3f}{entry['median_s']:>10.3f}{entry['cpu_s']:>8.2f}"
            f"{_requests_cell(entry):>10}   {detail}"
        )
    return lines


def recommend(
    summary: dict[str, Any], objects: dict[str, Any], thresholds: list[int], default: int | None
) -> dict[str, Any] | None:
    """The smallest threshold whose open + read() + data requests (by URL) are within 1% of the fewest measured."""
    rows = []
    for t in thresholds:
        entry = summary.get(f"icechunk-{t}/url")
        if entry is None:
            continue
        requests = entry["open"]["requests"]["total"] + entry["data"]["requests"]["total"]
        seconds = entry["open"]["best_s"] + entry["data"]["best_s"]
        found = objects.get(f"icechunk-{t}", {})
        rows.append(
            {
                "threshold": t,
                "requests": requests,
                "seconds": seconds,
                "manifest_bytes": found.get("bytes_by_kind", {}).get("manifests"),
                "largest_manifest_bytes": found.get("largest_by_kind", {}).get("manifests"),
            }
        )
    if not rows:
        return None
    fewest = min(row["requests"] for row in rows)
    chosen = next(row for row in rows if row["requests"] <= fewest * 1.01)
    return {"threshold": chosen["threshold"], "rows": rows, "fewest": fewest, "default": default}


def render(
    measured: dict[str, Any],
    summary: dict[str, Any],
    variants: dict[str, Any],
    args: argparse.Namespace,
    sizes: dict[str, Any],
    versions: dict[str, Any],
    advice: dict[str, Any] | None,
) -> str:
    default = versions.get("default_threshold")
    errors = measured["errors"]
    lines = [
        f"Icechunk on S3 vs consolidated Zarr on S3 ({'quick' if args.quick else 'full'} sizes: "
        f"{sizes['n_series']} TimeSeries x {sizes['n_samples']} samples, {sizes['n_units']} units, "
        f"{sizes['n_electrodes']} electrodes; best of {args.repeat} run(s), interleaved, each in a fresh process;",
        f"moto's S3 server on 127.0.0.1; {os.cpu_count()} CPUs, {platform.platform()})",
        f"icechunk {versions.get('icechunk')}, default inline_chunk_threshold_bytes = {default}; "
        "T = the threshold the repository was created with",
    ]

    def rows(op: str, phase: str) -> list[tuple[str, dict[str, Any] | None, str | None]]:
        out = []
        for variant in variants[op]:
            key = _key(variant, op)
            error = errors.get(key) or errors.get(variant["name"])
            entry = summary.get(key, {}).get(phase)
            out.append((_label(variant, default), entry, error or ("no run" if entry is None else None)))
        return out

    lines += _section(
        "write: Repository.create(storage, config) (Icechunk), NWBZarrIO(..., 'w').write(nwbfile), close() (commits)",
        rows("write", "write"),
    )
    lines += _section("open + read() (NWBZarrIO(..., 'r').read(), touching nothing else)", rows("read", "open"))
    lines += _section(
        f".data[:] of all {sizes['n_series']} TimeSeries, one after another (after open + read(), same process)",
        rows("read", "data"),
    )
    lines += ["", "stored objects (under each prefix after the write)"]
    lines.append(
        f"  {'store':<38}{'objects':>8}{'chunks':>8}{'manifests':>10}{'manifest KiB':>14}{'largest B':>11}"
        f"{'snapshot KiB':>14}{'total KiB':>11}"
    )
    for variant in variants["write"]:
        found = measured["objects"].get(variant["name"])
        if found is None:
            continue
        count, size, largest = found["count_by_kind"], found["bytes_by_kind"], found["largest_by_kind"]
        lines.append(
            f"  {_label(variant, default):<38}{found['objects']:>8}{count.get('chunks', 0):>8}"
            f"{count.get('manifests', 0):>10}{size.get('manifests', 0) / 1024:>14.1f}{largest.get('manifests', 0):>11}"
            f"{size.get('snapshots', 0) / 1024:>14.1f}{found['bytes'] / 1024:>11.1f}"
        )
    if "zarr" in measured["objects"]:
        meta = measured["objects"]["zarr"]["count_by_kind"].get("metadata", 0)
        lines.append(f"  (consolidated Zarr: {meta} of its objects are zarr.json metadata documents)")
    checks = {key: results[0].get("check") for key, results in measured["runs"].items() if "/" in key}
    if len({json.dumps(check, sort_keys=True) for check in checks.values()}) > 1:
        lines += ["", f"WARNING: the stores read back different data: {checks}"]
    if advice:
        lines += ["", "open + read() + data by URL, per threshold:"]
        for row in advice["rows"]:
            manifests = row["manifest_bytes"]
            kib = (
                "n/a" if manifests is None else f"{manifests / 1024:.1f} KiB, largest {row['largest_manifest_bytes']} B"
            )
            lines.append(
                f"  T={row['threshold']:<6} {row['requests']:>6} requests {row['seconds']:>8.3f} s   manifests {kib}"
            )
        lines.append(
            f"Smallest threshold within 1% of the fewest requests ({advice['fewest']}): "
            f"inline_chunk_threshold_bytes = {advice['threshold']} (icechunk's default: {default})"
        )
    if errors:
        lines += ["", *[f"{key}: failed - {error}" for key, error in errors.items()]]
    return "\n".join(lines)


def _versions() -> dict[str, Any]:
    from importlib import metadata

    found: dict[str, Any] = {"python": platform.python_version()}
    for dist in ("hdmf-zarr", "hdmf", "pynwb", "zarr", "icechunk", "moto", "s3fs"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    try:
        import icechunk

        # the default config leaves the field unset (None); its description names the value used
        described = re.search(r"inline_chunk_threshold_bytes: (\d+)", str(icechunk.RepositoryConfig.default()))
        found["default_threshold"] = int(described.group(1)) if described else None
    except ImportError:
        found["default_threshold"] = None
    return found


# ============================================================================================ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 TimeSeries and one run of each: a smoke test")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement (default 3, or 1 with --quick)")
    parser.add_argument(
        "--thresholds",
        type=lambda text: [int(t) for t in text.split(",")],
        default=THRESHOLDS,
        help=f"inline_chunk_threshold_bytes values, comma-separated (default {','.join(map(str, THRESHOLDS))})",
    )
    parser.add_argument("--python", metavar="PATH", default=sys.executable, help="interpreter for the workers")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per worker process")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    run.check_repeat(parser, args)
    if any(not 0 <= t <= 65535 for t in args.thresholds):
        parser.error("icechunk's inline_chunk_threshold_bytes is a 16-bit number: 0 to 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    early = run.worker_or_unavailable(args, run_worker, RESULT_MARKER)
    if early is not None:
        return early
    sizes = dict(run.QUICK_SIZES if args.quick else run.FULL_SIZES)
    versions = _versions()
    started = _dt.datetime.now()
    try:
        measured, variants = measure(Bench(args, sizes), args.thresholds, args.repeat)
    finally:
        s3bench.stop()
    summary = summaries(measured)
    advice = recommend(summary, measured["objects"], args.thresholds, versions["default_threshold"])
    table = render(measured, summary, variants, args, sizes, versions, advice)
    print(table)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeat": args.repeat,
        "thresholds": args.thresholds,
        "sizes": sizes,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions,
        "summary": summary,
        "objects": measured["objects"],
        "errors": measured["errors"],
        "recommendation": advice,
        "runs": measured["runs"],
        "table": table,
    }
    run.save_results("icechunk-s3", started, args.quick, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
