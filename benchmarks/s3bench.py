"""The S3 scenarios of ``run.py``: a real S3 server on 127.0.0.1 that counts the requests it answers.

The parent process (run with this project's interpreter, which has ``moto[server]`` and ``s3fs``)
starts moto's S3 server on a free loopback port, uploads each implementation's many-objects file
(written untimed by that implementation, as for ``many-read``), and runs the workers against it with
``storage_options`` for that endpoint. Before each worker the server's request counter is reset;
afterwards the worker's result gets the count (by HTTP method). The server runs in the parent, so
it does not share a CPU-bound interpreter with the client being timed.

Only the standard library is imported at module level: ``run.py`` imports this in every process.
"""

from __future__ import annotations

import os
from typing import Any

BUCKET = "bench"
_SERVER: Any = None


def server() -> Any:
    """The running server (started on first use)."""
    global _SERVER
    if _SERVER is None:
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        from hdmf_zarr.testing.s3server import LocalS3Server

        _SERVER = LocalS3Server().start()
        _SERVER.create_bucket(BUCKET)
    return _SERVER


def stop() -> None:
    global _SERVER
    if _SERVER is not None:
        _SERVER.stop()
        _SERVER = None


def available() -> str | None:
    """None when the S3 scenarios can run here, else the reason they cannot."""
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as err:
        return f"needs moto[server] and s3fs in the interpreter that runs run.py ({err})"
    return None


def upload(local: str, name: str) -> str:
    """Copy the local store folder ``local`` to ``s3://bench/<name>``; returns the URL."""
    import s3fs

    s3 = server()
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3.storage_options())
    fs.put(local.rstrip("/") + "/", f"{BUCKET}/{name}", recursive=True)
    return s3.url(BUCKET, name)


def reference_has_s3fs(python: str) -> str | None:
    """Install s3fs into the reference's interpreter when it lacks it; None on success, else why not."""
    import subprocess
    import sys

    probe = subprocess.run([python, "-c", "import s3fs"], capture_output=True, text=True, check=False)
    if probe.returncode == 0:
        return None
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "s3fs"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or ["no output"]
        print(f"[bench] could not install s3fs for the reference: {lines[-1]}", file=sys.stderr)
        return f"the reference interpreter has no s3fs ({lines[-1]})"
    return None


def measure(runner: Any, scenario: str, scenarios: dict[str, Any], summarize: Any, log: Any) -> dict[str, Any]:
    """Run ``scenario`` ("s3-read" or "s3-write") for each implementation, counting requests."""
    action = scenario.split("-")[1]
    impls = scenarios[scenario][1]
    reason = available()
    failed: dict[str, dict[str, Any]] = {}
    urls: dict[str, str] = {}
    for impl in impls:
        python = runner.pythons.get(impl)
        if reason is not None:
            failed[impl] = {"error": reason, "unavailable": True}
        elif python is None:
            failed[impl] = {"error": runner.unavailable.get(impl, "interpreter unavailable"), "unavailable": True}
        elif impl == "reference" and (missing := reference_has_s3fs(python)):
            failed[impl] = {"error": missing}
        elif action == "read":
            path, error = runner.ensure_file("many", impl)
            if error:
                failed[impl] = {"error": error}
            else:
                log(f"  uploading the {impl} many-objects file to the local S3 server (untimed)")
                urls[impl] = upload(path, f"{impl}-many.nwb.zarr")
    runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
    for index in range(runner.args.repeat):
        for impl in impls:
            if impl in failed:
                continue
            s3 = server()
            url = urls[impl] if action == "read" else s3.url(BUCKET, f"{impl}-write-{index}.nwb.zarr")
            log(f"  {scenario} / {impl}: run {index + 1} of {runner.args.repeat}")
            s3.requests.reset()
            result = runner.worker(impl, f"s3_{action}", url, extra={"storage_options": s3.storage_options()})
            requests = s3.requests.snapshot()
            if "error" in result:
                failed[impl] = {"error": result["error"], "runs": runs[impl], "requests": requests}
                continue
            result["requests"] = requests
            runs[impl].append(result)
    return {impl: failed[impl] if impl in failed else summarize(runs[impl]) for impl in impls}


def _total(entry: dict[str, Any]) -> int | None:
    requests = entry.get("requests")
    return sum(requests.values()) if requests else None


def render_requests(measured: dict[str, Any], impls: list[str], labels: dict[str, str]) -> list[str]:
    lines = [f"  {'requests (best run)':<32}{'total':>10}   by method"]
    for impl in impls:
        entry = measured.get(impl, {})
        total = _total(entry)
        if total is None or "error" in entry:
            continue
        methods = ", ".join(f"{m} {n}" for m, n in sorted(entry["requests"].items()))
        lines.append(f"  {labels[impl]:<32}{total:>10}   {methods}")
    return lines


def targets(results: dict[str, Any], verdict: Any, best: Any, fmt: Any) -> list[str]:
    if "s3-read" not in results:
        return []
    measured = results["s3-read"]
    ours, ref = _total(measured.get("ours", {})), _total(measured.get("reference", {}))
    share = ours / ref if ours is not None and ref else None
    ok = None if share is None else share <= 0.1
    lines = [f"s3-read     requests ours / reference = {fmt(share, '.3f')}   (target <= 0.1)   {verdict(ok)}"]
    ours_s, ref_s = best(results, "s3-read", "ours"), best(results, "s3-read", "reference")
    speedup = ref_s / ours_s if ours_s and ref_s else None
    ok = None if speedup is None else speedup >= 5
    lines.append(f"s3-read     reference / ours = {fmt(speedup, '.1f', 'x')}   (target >= 5x)   {verdict(ok)}")
    return lines
