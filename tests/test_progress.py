"""Progress bars: off by default, tqdm bars on request (``progress=True`` or a dict of tqdm keywords)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
pytest.importorskip("tqdm")


def _write(path, data, **kwargs):
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=data))
    with NWBZarrIO(path, "w") as nwb_io:
        nwb_io.write(nwbfile, **kwargs)


def _read(path):
    with NWBZarrIO(path, "r") as nwb_io:
        return nwb_io.read().acquisition["ts"].data[:]


def test_no_bar_unless_asked(tmp_path, capsys):
    _write(tmp_path / "f.nwb.zarr", ZarrDataIO(np.arange(1_000_000.0).reshape(-1, 4), chunks=(25_000, 4)))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_counts_streamed_chunks(tmp_path):
    out = io.StringIO()
    data = np.arange(1_000_000.0).reshape(-1, 4)  # 7.6 MiB: streamed chunk by chunk
    _write(
        tmp_path / "f.nwb.zarr",
        ZarrDataIO(data, chunks=(25_000, 4)),
        progress={"file": out, "mininterval": 0, "miniters": 1},
    )
    assert "10/10" in out.getvalue() and "writing chunks" in out.getvalue()


def test_progress_bar_counts_iterator_blocks(tmp_path):
    from hdmf.data_utils import DataChunkIterator

    out = io.StringIO()
    iterator = DataChunkIterator(data=iter(np.arange(12.0).reshape(6, 2)), buffer_size=2)
    _write(tmp_path / "f.nwb.zarr", iterator, progress={"file": out, "mininterval": 0, "miniters": 1})
    assert "writing iterators" in out.getvalue() and "3block" in out.getvalue().replace(" ", "")
    np.testing.assert_array_equal(_read(tmp_path / "f.nwb.zarr"), np.arange(12.0).reshape(6, 2))


def test_export_shows_the_chunks_copied(tmp_path):
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO

    data = np.arange(400_000.0).reshape(-1, 4)
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=H5DataIO(data, chunks=(10_000, 4))))
    with NWBHDF5IO(tmp_path / "f.nwb", "w") as h5:
        h5.write(nwbfile)
    out = io.StringIO()
    with NWBHDF5IO(tmp_path / "f.nwb", "r") as h5, NWBZarrIO(tmp_path / "f.nwb.zarr", "w") as zio:
        zio.export(src_io=h5, progress={"file": out, "mininterval": 0, "miniters": 1})
    assert "writing chunks" in out.getvalue() and "10/10" in out.getvalue()
    np.testing.assert_array_equal(_read(tmp_path / "f.nwb.zarr"), data)


def _last_line(text: str) -> str:
    """What a terminal shows last: the text after the final carriage return or newline."""
    return [part for part in text.replace("\r", "\n").split("\n") if part.strip()][-1]


def test_progress_true_leaves_a_finished_bar_on_stderr(tmp_path, capsys):
    data = np.arange(1_000_000.0).reshape(-1, 4)
    _write(tmp_path / "f.nwb.zarr", ZarrDataIO(data, chunks=(25_000, 4)), progress=True)
    err = capsys.readouterr().err
    assert "writing chunks" in _last_line(err) and "10/10" in _last_line(err)


def test_iterator_bars_know_their_total_and_iterators_keep_their_own(tmp_path):
    """A GenericDataChunkIterator's own bar (display_progress) fills on the stream it was given, and ours counts
    its blocks against their total, in one process and in worker processes."""
    from hdmf.data_utils import GenericDataChunkIterator

    class Blocks(GenericDataChunkIterator):
        def __init__(self, values, **kwargs):
            self.values = values
            super().__init__(**kwargs)

        def _get_data(self, selection):
            return self.values[selection]

        def _get_maxshape(self):
            return self.values.shape

        def _get_dtype(self):
            return self.values.dtype

    values = np.arange(40_000.0).reshape(-1, 4)
    for jobs in (1, 2):
        own, ours = io.StringIO(), io.StringIO()
        options = {"file": own, "mininterval": 0}
        iterator = Blocks(values, chunk_shape=(1000, 4), buffer_shape=(2000, 4), display_progress=True,
                          progress_bar_options=options)  # fmt: skip
        path = tmp_path / f"jobs{jobs}.nwb.zarr"
        _write(path, iterator, number_of_jobs=jobs, progress={"file": ours, "mininterval": 0, "miniters": 1})
        assert "writing iterators" in ours.getvalue() and "5/5" in _last_line(ours.getvalue())
        if jobs == 1:
            assert "5/5" in _last_line(own.getvalue())
        np.testing.assert_array_equal(_read(path), values)
