"""Write an NWB file with NWBZarrIO, read it back, and compare."""

from __future__ import annotations

import numpy as np

from hdmf_zarr import NWBZarrIO


def test_mock_nwbfile_round_trip(nwbfile, zarr_path):
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    with NWBZarrIO(zarr_path, "r") as io:
        read = io.read()
        (name,) = [k for k in nwbfile.acquisition if k.startswith("ElectricalSeries")]
        es, original = read.acquisition[name], nwbfile.acquisition[name]
        np.testing.assert_array_equal(es.data[:], original.data[:])
        assert list(es.electrodes[:].index) == list(original.electrodes[:].index)
        assert read.units.to_dataframe().shape == nwbfile.units.to_dataframe().shape
        assert read.trials.to_dataframe()["stop_time"].tolist() == [1.0, 2.0]
        assert read.identifier == nwbfile.identifier
        assert read.session_start_time == nwbfile.session_start_time


def test_written_file_has_consolidated_metadata(nwbfile, zarr_path):
    import json

    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    root = json.loads((zarr_path / "zarr.json").read_text())
    metadata = root["consolidated_metadata"]["metadata"]
    (name,) = [k for k in nwbfile.acquisition if k.startswith("ElectricalSeries")]
    assert f"acquisition/{name}/data" in metadata
    assert "specifications/core" in metadata
    assert root["attributes"][".specloc"] == "specifications"


def test_consolidated_block_with_nested_group_members_is_read(nwbfile, zarr_path):
    """Some writers nest each group's members inside that group's own consolidated block."""
    import json

    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    root = json.loads((zarr_path / "zarr.json").read_text())
    flat = root["consolidated_metadata"]["metadata"]
    nested = {k: v for k, v in flat.items() if not k.startswith("acquisition/")}
    nested["acquisition"]["consolidated_metadata"]["metadata"] = {
        k.removeprefix("acquisition/"): v for k, v in flat.items() if k.startswith("acquisition/")
    }
    root["consolidated_metadata"]["metadata"] = nested
    (zarr_path / "zarr.json").write_text(json.dumps(root))
    with NWBZarrIO(zarr_path, "r") as io:
        read = io.read()
        assert sorted(read.acquisition) == sorted(nwbfile.acquisition)
        np.testing.assert_array_equal(read.acquisition["ts"].data[:], nwbfile.acquisition["ts"].data[:])
