"""Read a large compressed ElectricalSeries into host memory vs device (GPU) memory through hdmf_zarr.

    .venv/bin/python benchmarks/gpu_read.py [--samples N] [--repeat K]

Needs cupy and a CUDA device; prints why it cannot run otherwise (exit code 0, nothing measured).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _device_available() -> str | None:
    try:
        import cupy
    except ImportError:
        return "cupy is not installed"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return "no CUDA device"
    except Exception as err:  # noqa: BLE001 - report any CUDA runtime failure
        return f"CUDA runtime unavailable: {err}"
    return None


def _write(path: Path, samples: int) -> None:
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile
    from zarr.codecs import BloscCodec

    from hdmf_zarr import NWBZarrIO, ZarrDataIO

    rng = np.random.default_rng(0)
    data = np.cumsum(rng.integers(-20, 20, size=(samples, 384), dtype="int16"), axis=0, dtype="int16")
    nwbfile = mock_NWBFile()
    codec = BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")
    mock_ElectricalSeries(name="es", nwbfile=nwbfile, data=ZarrDataIO(data, chunks=(30000, 64), compressors=[codec]))
    with NWBZarrIO(path, "w") as io:
        io.write(nwbfile)


def _time_read(path: Path, device: bool, repeat: int) -> float:
    import zarr

    from hdmf_zarr import NWBZarrIO

    best = float("inf")
    for _ in range(repeat):
        with zarr.config.enable_gpu() if device else zarr.config.set({}), NWBZarrIO(path, "r") as io:
            data = io.read().acquisition["es"].data
            start = time.perf_counter()
            values = data[:]
            if device:
                import cupy

                cupy.cuda.runtime.deviceSynchronize()
                assert isinstance(values, cupy.ndarray)
            best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=349525, help="rows of the (T, 384) int16 series")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reason = _device_available()
    if reason is not None:
        print(f"gpu_read: not run ({reason}).")
        return 0
    warnings.simplefilter("ignore")
    scratch = Path(tempfile.mkdtemp(prefix="hdmf_zarr_gpu_"))
    try:
        path = scratch / "gpu.nwb.zarr"
        _write(path, args.samples)
        host = _time_read(path, device=False, repeat=args.repeat)
        device = _time_read(path, device=True, repeat=args.repeat)
        mib = args.samples * 384 * 2 / 2**20
        print(f"read {mib:.0f} MiB int16, Blosc zstd 5, chunks (30000, 64); best of {args.repeat}")
        print(f"  host memory    {host:.3f} s  ({mib / host:.0f} MiB/s)")
        print(f"  device memory  {device:.3f} s  ({mib / device:.0f} MiB/s)  ratio {device / host:.2f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
