"""GPU buffers: with zarr.config.enable_gpu(), numeric data read through hdmf_zarr lands in device memory.

These tests need cupy and a CUDA device and are skipped elsewhere (CI has no GPU).
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from hdmf.common import DynamicTable, VectorData
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, ZarrDataIO

cupy = pytest.importorskip("cupy", reason="GPU tests need cupy and a CUDA device (run them on a GPU machine)")
try:
    HAVE_DEVICE = cupy.cuda.runtime.getDeviceCount() > 0
except Exception:  # noqa: BLE001 - any CUDA runtime failure means no usable device
    HAVE_DEVICE = False
pytestmark = pytest.mark.skipif(not HAVE_DEVICE, reason="no CUDA device is available")


@pytest.fixture
def gpu_file(zarr_path):
    nwbfile = mock_NWBFile()
    data = np.arange(40000, dtype="float32").reshape(4000, 10)
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=ZarrDataIO(data, chunks=(1000, 10))))
    table = DynamicTable(
        name="notes",
        description="text column",
        columns=[VectorData(name="text", description="words", data=["alpha", "beta", "gamma"])],
    )
    nwbfile.add_acquisition(table)
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    return zarr_path, data


def test_numeric_datasets_read_into_device_memory(gpu_file):
    path, data = gpu_file
    with zarr.config.enable_gpu(), NWBZarrIO(path, "r") as io:
        read = io.read()
        block = read.acquisition["ts"].data[100:200]
        assert isinstance(block, cupy.ndarray)
        np.testing.assert_array_equal(cupy.asnumpy(block), data[100:200])
        whole = read.acquisition["ts"].data[:]
        assert isinstance(whole, cupy.ndarray)


def test_text_and_scalars_stay_python_values_on_the_host(gpu_file):
    path, _ = gpu_file
    with zarr.config.enable_gpu(), NWBZarrIO(path, "r") as io:
        read = io.read()
        assert list(read.acquisition["notes"]["text"][:]) == ["alpha", "beta", "gamma"]
        assert isinstance(read.acquisition["ts"].rate, float)
        assert isinstance(read.identifier, str)
