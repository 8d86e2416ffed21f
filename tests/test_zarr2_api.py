"""Code written for hdmf-zarr <= 0.13 (the zarr-python 2 API) keeps working.

``ZarrDataIO(compressor=<numcodecs codec>, filters=[<numcodecs codecs>])`` is translated to zarr v3 codecs with a
DeprecationWarning, and arrays handed back by ``read()`` answer ``.compressor`` like zarr 2 arrays did.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs.numcodecs as wrappers
from zarr.codecs import BloscCodec, Crc32cCodec, GzipCodec, TransposeCodec, VLenUTF8Codec, ZstdCodec

from hdmf_zarr import NWBZarrIO, ZarrDataIO
from hdmf_zarr._legacy import codecs as _legacy_codecs
from hdmf_zarr.utils import HDMFZarrArray

#: numcodecs < 0.16 (what neuroconv pins) has no CRC32C codec
_CRC32C = numcodecs.CRC32C() if hasattr(numcodecs, "CRC32C") else None
_NEEDS_CRC32C = pytest.mark.skipif(_CRC32C is None, reason="this numcodecs has no CRC32C codec")

DATA = np.arange(64, dtype=np.int32).reshape(8, 8)


def quietly(**kwargs: Any) -> ZarrDataIO:
    """ZarrDataIO(DATA, **kwargs), asserting the deprecation warning is given."""
    with pytest.warns(DeprecationWarning, match="is the zarr 2 spelling"):
        return ZarrDataIO(DATA, **kwargs)


def stored_codecs(path: Path, key: str) -> list[dict[str, Any]]:
    return json.loads((path / key / "zarr.json").read_text())["codecs"]


# ------------------------------------------------------------------------------------------ translation


@pytest.mark.parametrize(
    ("numcodec", "v3"),
    [
        (
            numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE),
            BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"),
        ),
        (
            numcodecs.Blosc(cname="lz4", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE),
            BloscCodec(cname="lz4", clevel=3, shuffle="shuffle"),
        ),
        (
            numcodecs.Blosc(cname="zlib", clevel=1, shuffle=numcodecs.Blosc.NOSHUFFLE, blocksize=256),
            BloscCodec(cname="zlib", clevel=1, shuffle="noshuffle", blocksize=256),
        ),
        (numcodecs.Zstd(level=7, checksum=True), ZstdCodec(level=7, checksum=True)),
        (numcodecs.Zstd(level=2), ZstdCodec(level=2)),
        (numcodecs.GZip(level=4), GzipCodec(level=4)),
        pytest.param(_CRC32C, Crc32cCodec(), marks=_NEEDS_CRC32C),
    ],
    ids=["blosc-bitshuffle", "blosc-shuffle", "blosc-noshuffle-blocksize", "zstd-checksum", "zstd", "gzip", "crc32c"],
)
def test_codecs_with_a_native_v3_codec_become_that_codec(numcodec, v3):
    dio = quietly(compressor=numcodec)
    (codec,) = dio.io_settings["compressors"]
    assert type(codec) is type(v3)
    assert codec.to_dict() == v3.to_dict()


def test_blosc_shuffle_int_becomes_zarr_shuffle_name():
    for number, name in [(0, "noshuffle"), (1, "shuffle"), (2, "bitshuffle")]:
        (codec,) = quietly(compressor=numcodecs.Blosc(shuffle=number)).io_settings["compressors"]
        assert codec.shuffle == name


def test_blosc_autoshuffle_and_typesize_are_left_to_the_item_size(tmp_path):
    """numcodecs' AUTOSHUFFLE picks bitshuffle for 1-byte items and shuffle otherwise, as zarr's tunable default."""
    (codec,) = quietly(compressor=numcodecs.Blosc(shuffle=numcodecs.Blosc.AUTOSHUFFLE)).io_settings["compressors"]
    array = zarr.create_array(tmp_path / "a.zarr", shape=(4,), dtype="int16", compressors=[codec])
    assert array.compressors[0].shuffle == "shuffle" and array.compressors[0].typesize == 2
    array = zarr.create_array(tmp_path / "b.zarr", shape=(4,), dtype="uint8", compressors=[codec])
    assert array.compressors[0].shuffle == "bitshuffle" and array.compressors[0].typesize == 1


def test_blosc_fixed_typesize_is_kept():
    (codec,) = quietly(compressor=numcodecs.Blosc(typesize=8)).io_settings["compressors"]
    assert codec.typesize == 8


@pytest.mark.parametrize(
    "numcodec",
    [numcodecs.LZ4(acceleration=2), numcodecs.Zlib(level=3), numcodecs.BZ2(level=5), numcodecs.LZMA(preset=1)],
    ids=["lz4", "zlib", "bz2", "lzma"],
)
def test_other_compressors_become_numcodecs_wrappers(numcodec):
    (codec,) = quietly(compressor=numcodec).io_settings["compressors"]
    assert isinstance(codec, wrappers._NumcodecsBytesBytesCodec)
    assert codec.codec_name == f"numcodecs.{numcodec.codec_id}"
    assert codec._codec.get_config() == numcodec.get_config()


@pytest.mark.parametrize(
    "numcodec",
    [
        numcodecs.Delta(dtype="<i4"),
        numcodecs.FixedScaleOffset(offset=1, scale=10, dtype="<f8", astype="<i4"),
        numcodecs.BitRound(keepbits=4),
        numcodecs.Quantize(digits=2, dtype="<f8"),
        numcodecs.AsType(encode_dtype="<i2", decode_dtype="<i4"),
    ],
    ids=["delta", "fixedscaleoffset", "bitround", "quantize", "astype"],
)
def test_array_to_array_filters_stay_filters(numcodec):
    dio = quietly(filters=[numcodec])
    (codec,) = dio.io_settings["filters"]
    assert isinstance(codec, wrappers._NumcodecsArrayArrayCodec)
    assert codec.codec_name == f"numcodecs.{numcodec.codec_id}"
    assert "compressors" not in dio.io_settings, "the default compressor still applies"


def test_bytes_to_bytes_filters_run_before_the_compressor():
    dio = quietly(filters=[numcodecs.Delta(dtype="<i4"), numcodecs.Shuffle(elementsize=4)], compressor=numcodecs.Zstd())
    assert [c.codec_name for c in dio.io_settings["filters"]] == ["numcodecs.delta"]
    shuffle, zstd = dio.io_settings["compressors"]
    assert shuffle.codec_name == "numcodecs.shuffle" and zstd == ZstdCodec(level=0)


def test_bytes_to_bytes_filters_keep_the_default_compressor_after_them():
    dio = quietly(filters=[numcodecs.Shuffle(elementsize=4)])
    assert "filters" not in dio.io_settings
    assert [type(c) for c in dio.io_settings["compressors"]] == [wrappers.Shuffle, ZstdCodec]


def test_bytes_to_bytes_filters_with_no_compressor():
    dio = quietly(filters=[numcodecs.Adler32()], compressor=False)
    assert [type(c) for c in dio.io_settings["compressors"]] == [wrappers.Adler32]


def test_object_codec_filter_becomes_the_serializer():
    dio = quietly(filters=[numcodecs.VLenUTF8()])
    assert dio.io_settings == {"serializer": VLenUTF8Codec()}


def test_object_codec_filter_on_text_is_written_as_vlen_utf8(tmp_path):
    from hdmf.build import DatasetBuilder, GroupBuilder

    from hdmf_zarr import ZarrIO

    with pytest.warns(DeprecationWarning):
        data = ZarrDataIO(["a", "bc"], filters=[numcodecs.VLenUTF8()], compressor=numcodecs.Zstd(level=1))
    with ZarrIO(tmp_path / "f.zarr", "w") as io:
        io.write_builder(GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=data, dtype="text")}))
    assert stored_codecs(tmp_path / "f.zarr", "d") == [
        {"name": "vlen-utf8", "configuration": {}},
        {"name": "zstd", "configuration": {"level": 1, "checksum": False}},
    ]
    assert ZarrIO(tmp_path / "f.zarr", "r").read_builder()["d"].data[:].tolist() == ["a", "bc"]


def test_array_to_bytes_compressor_becomes_the_serializer():
    pcodec = pytest.importorskip("numcodecs.pcodec", exc_type=ImportError)
    dio = quietly(compressor=pcodec.PCodec(level=3))
    assert dio.io_settings["compressors"] is None
    assert dio.io_settings["serializer"].codec_name == "numcodecs.pcodec"


@pytest.mark.parametrize("value", [False, None])
def test_compressor_false_or_none_means_no_compression(value):
    with pytest.warns(DeprecationWarning, match=re.escape(f"ZarrDataIO(compressor={value}) is the zarr 2 spelling")):
        dio = ZarrDataIO(DATA, compressor=value)
    assert dio.io_settings == {"compressors": None}
    assert dio.get_io_params()["compressors"] is False


def test_numcodecs_codecs_in_compressors_are_translated_too():
    dio = quietly(compressors=numcodecs.GZip(level=2))
    assert dio.io_settings["compressors"] == [GzipCodec(level=2)]
    dio = quietly(compressors=[numcodecs.Zstd(level=1), Crc32cCodec()])
    assert dio.io_settings["compressors"] == [ZstdCodec(level=1), Crc32cCodec()]


def test_zarr_v3_codecs_in_filters_keep_working_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dio = ZarrDataIO(DATA, filters=[TransposeCodec(order=(1, 0))], compressors=[ZstdCodec()])
    assert dio.io_settings == {"filters": [TransposeCodec(order=(1, 0))], "compressors": [ZstdCodec()]}


def test_mixed_v3_and_numcodecs_filters_keep_their_order():
    dio = quietly(filters=[TransposeCodec(order=(1, 0)), numcodecs.Delta(dtype="<i4")])
    transpose, delta = dio.io_settings["filters"]
    assert transpose == TransposeCodec(order=(1, 0)) and delta.codec_name == "numcodecs.delta"


# ------------------------------------------------------------------------------------------ warnings and errors


def test_deprecation_warning_spells_the_v3_arguments():
    codec = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)
    with pytest.warns(DeprecationWarning) as record:
        ZarrDataIO(DATA, compressor=codec)
    (warning,) = record
    assert str(warning.message) == (
        f"ZarrDataIO(compressor={codec!r}) is the zarr 2 spelling; "
        "use compressors=[zarr.codecs.BloscCodec(cname='zstd', clevel=5, shuffle='bitshuffle')]"
    )
    assert warning.filename == __file__, "the warning points at the caller"


def test_deprecation_warning_spells_filters_and_compressors_together():
    with pytest.warns(DeprecationWarning) as record:
        ZarrDataIO(DATA, compressor=numcodecs.LZ4(), filters=[numcodecs.Delta(dtype="<i4"), numcodecs.Shuffle()])
    message = str(record[0].message)
    assert "compressor=LZ4(acceleration=1), filters=[Delta(dtype='<i4'), Shuffle(elementsize=4)])" in message
    assert message.endswith(
        "use filters=[zarr.codecs.numcodecs.Delta(dtype='<i4', astype='<i4')], compressors=["
        "zarr.codecs.numcodecs.Shuffle(elementsize=4), zarr.codecs.numcodecs.LZ4(acceleration=1)]"
    )


def test_the_v3_spelling_in_the_warning_builds_the_same_settings():
    with pytest.warns(DeprecationWarning) as record:
        legacy = ZarrDataIO(DATA, compressor=numcodecs.Zstd(level=3), filters=[numcodecs.BitRound(keepbits=3)])
    spelled = str(record[0].message).split("; use ", 1)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        modern = eval(f"ZarrDataIO(DATA, {spelled})", {"ZarrDataIO": ZarrDataIO, "DATA": DATA, "zarr": zarr})
    assert modern.io_settings == legacy.io_settings


@pytest.mark.parametrize("compressor", [numcodecs.Blosc(), None, False])
@pytest.mark.parametrize("compressors", [[ZstdCodec()], False, True])
def test_compressor_and_compressors_together_raise_type_error(compressor, compressors):
    with pytest.raises(TypeError, match="both 'compressor'.*and 'compressors'"):
        ZarrDataIO(DATA, compressor=compressor, compressors=compressors)


@pytest.mark.parametrize(
    "codec",
    [numcodecs.Pickle(), numcodecs.Categorize(labels=["a"], dtype=object), numcodecs.Base64()],
    ids=["pickle", "categorize", "base64"],
)
def test_codec_without_v3_equivalent_raises_type_error_naming_it_and_the_fix(codec):
    with pytest.raises(TypeError, match="has no zarr v3 equivalent") as error:
        ZarrDataIO(DATA, compressor=codec)
    assert repr(codec) in str(error.value) and "zarr.codecs" in str(error.value)
    with pytest.raises(TypeError, match=re.escape(repr(codec))):
        ZarrDataIO(DATA, filters=[codec])


def test_compressor_that_is_not_a_codec_raises_type_error():
    with pytest.raises(TypeError, match="compressors="):
        ZarrDataIO(DATA, compressor="zstd")


def test_array_to_array_codec_as_compressor_becomes_the_last_filter():
    """zarr 2 took any codec as compressor (neuroconv offers numcodecs PackBits as a compression method)."""
    with pytest.warns(DeprecationWarning, match=r"use filters=\[.*numcodecs\.Delta\(.*compressors=False"):
        dio = ZarrDataIO(DATA, filters=[numcodecs.FixedScaleOffset(0, 1, "<i4")], compressor=numcodecs.Delta("<i4"))
    assert [type(codec).__name__ for codec in dio.io_settings["filters"]] == ["FixedScaleOffset", "Delta"]
    assert dio.io_settings["compressors"] is None  # none
    assert ZarrDataIO(DATA, **dio.get_io_params()).io_settings == dio.io_settings


def test_array_filter_after_a_bytes_filter_raises_value_error():
    with pytest.raises(ValueError, match="reorder"):
        ZarrDataIO(DATA, filters=[numcodecs.Shuffle(), numcodecs.Delta(dtype="<i4")])


def test_object_codec_filter_and_a_serializer_raise_type_error():
    with pytest.raises(TypeError, match="serializ"):
        ZarrDataIO(["a"], filters=[numcodecs.VLenUTF8()], serializer=VLenUTF8Codec())


def test_no_warning_without_zarr2_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ZarrDataIO(DATA)
        ZarrDataIO(DATA, compressors=False, chunks=(4, 4))


# ------------------------------------------------------------------------------------------ round trip


@pytest.mark.parametrize(
    "settings",
    [
        {"compressor": numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)},
        {"compressor": numcodecs.Blosc(shuffle=numcodecs.Blosc.AUTOSHUFFLE)},
        {"compressor": False},
        {"compressor": None},
        {"compressor": numcodecs.LZ4(), "filters": [numcodecs.Delta(dtype="<i4"), numcodecs.Shuffle()]},
        {"filters": [numcodecs.FixedScaleOffset(offset=0, scale=2, dtype="<i4", astype="<i2")], "chunks": (4, 4)},
    ],
    ids=["blosc", "blosc-auto", "false", "none", "lz4-filters", "fixedscaleoffset"],
)
def test_get_io_params_reports_v3_codecs_and_round_trips_without_a_warning(settings):
    original = quietly(**settings)
    params = original.get_io_params()
    assert "compressor" not in params
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copy = ZarrDataIO(DATA, **params)
    assert copy.io_settings == original.io_settings
    assert copy.get_io_params() == params


# ------------------------------------------------------------------------------------------ written files


@pytest.mark.parametrize(
    ("settings", "codecs"),
    [
        (
            {"compressor": numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)},
            [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {
                    "name": "blosc",
                    "configuration": {
                        "typesize": 4,
                        "cname": "zstd",
                        "clevel": 5,
                        "shuffle": "bitshuffle",
                        "blocksize": 0,
                    },
                },
            ],
        ),
        (
            {"compressor": numcodecs.Zstd(level=3, checksum=True)},
            [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "zstd", "configuration": {"level": 3, "checksum": True}},
            ],
        ),
        ({"compressor": None}, [{"name": "bytes", "configuration": {"endian": "little"}}]),
        (
            {"compressor": numcodecs.GZip(level=6), "filters": [numcodecs.Delta(dtype="<i4"), numcodecs.Shuffle()]},
            [
                {"name": "numcodecs.delta", "configuration": {"dtype": "<i4", "astype": "<i4"}},
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "numcodecs.shuffle", "configuration": {"elementsize": 4}},
                {"name": "gzip", "configuration": {"level": 6}},
            ],
        ),
        (
            {"compressor": numcodecs.LZ4(acceleration=1), "chunks": (5, 8)},
            [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "numcodecs.lz4", "configuration": {"acceleration": 1}},
            ],
        ),
    ],
    ids=["blosc", "zstd", "none", "gzip-delta-shuffle", "lz4"],
)
def test_translated_codecs_are_written_and_read_back(tmp_path, settings, codecs):
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    nwb.add_acquisition(mock_TimeSeries(name="ts", data=quietly(**settings)))
    path = tmp_path / "f.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    assert stored_codecs(path, "acquisition/ts/data") == codecs
    with NWBZarrIO(path, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)


# ------------------------------------------------------------------------------------------ arrays read back


@pytest.fixture(scope="module")
def read_file(tmp_path_factory):
    """A file written by us with compressed, uncompressed, filtered, sharded and text datasets; open for reading."""
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    blosc = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
    series = {
        "blosc": quietly(compressor=blosc, chunks=(4, 8)),
        "plain": quietly(compressor=False),
        "lz4_delta": quietly(compressor=numcodecs.LZ4(), filters=[numcodecs.Delta(dtype="<i4"), numcodecs.Shuffle()]),
        "zstd_checksum": ZarrDataIO(DATA, compressors=[ZstdCodec(level=2), Crc32cCodec()]),
        "sharded": ZarrDataIO(DATA, chunks=(2, 8), shards=(4, 8), compressors=[GzipCodec(level=1)]),
        "checksum_only": ZarrDataIO(DATA, compressors=[Crc32cCodec()]),
    }
    for name, data in series.items():
        nwb.add_acquisition(mock_TimeSeries(name=name, data=data))
    nwb.add_trial_column(name="label", description="text column")
    nwb.add_trial(start_time=0.0, stop_time=1.0, timeseries=[nwb.acquisition["plain"]], label="a")
    path = tmp_path_factory.mktemp("read") / "f.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    io = NWBZarrIO(path, "r")
    yield io.read()
    io.close()


def test_read_arrays_are_hdmf_zarr_arrays(read_file):
    data = read_file.acquisition["blosc"].data
    assert isinstance(data, HDMFZarrArray) and isinstance(data, zarr.Array)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("blosc", numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)),
        ("plain", None),
        ("lz4_delta", numcodecs.LZ4(acceleration=1)),
        ("zstd_checksum", numcodecs.Zstd(level=2)),
        ("sharded", numcodecs.GZip(level=1)),
        pytest.param("checksum_only", _CRC32C, marks=_NEEDS_CRC32C),
    ],
)
def test_compressor_is_the_zarr2_numcodecs_codec(read_file, name, expected):
    data = read_file.acquisition[name].data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zarr 3 warns (and raises for v3 arrays) on .compressor; we do neither
        compressor = data.compressor
    assert compressor == expected
    if expected is not None:
        assert isinstance(compressor, numcodecs.abc.Codec)
        assert compressor.get_config() == expected.get_config()


def test_table_columns_report_their_compressor(read_file):
    assert read_file.trials["start_time"].data.compressor == numcodecs.Zstd(level=0)
    data = read_file.trials["label"].data
    assert isinstance(data, HDMFZarrArray)
    assert data.compressor == numcodecs.Zstd(level=0)
    assert data.dtype == np.dtype(object) and data.itemsize == 8


def test_zarr2_attributes_of_a_read_array(read_file):
    data = read_file.acquisition["blosc"].data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert data.chunks == (4, 8)
        assert data.shape == (8, 8)
        assert data.dtype == np.dtype("int32")
        assert data.size == 64
        assert data.nbytes == 256
        assert data.itemsize == 4
        assert data.name == "/acquisition/blosc/data"
        assert data.filters is None  # zarr 2's spelling of "no filters"
        assert read_file.acquisition["sharded"].data.chunks == (2, 8)


def test_zarr3_codecs_stay_reachable(read_file):
    """``.filters`` is zarr 2's view (what tools written for zarr 2 read); the zarr v3 codecs are still there."""
    data = read_file.acquisition["lz4_delta"].data
    (delta,) = data.async_array.filters
    assert isinstance(delta, wrappers.Delta), "filters are zarr v3 codecs, usable in zarr.create_array"
    assert [c.codec_name for c in data.compressors] == ["numcodecs.shuffle", "numcodecs.lz4"]
    assert read_file.acquisition["plain"].data.compressors == ()
    copy = zarr.create_array(
        zarr.storage.MemoryStore(),
        shape=data.shape,
        dtype="int32",
        filters=data.async_array.filters,
        compressors=data.compressors,
    )
    assert copy.filters == data.async_array.filters


def test_reference_columns_expose_their_zarr_array(read_file):
    column = read_file.trials["timeseries"].target.data  # compound (idx_start, count, timeseries reference)
    assert not isinstance(column, zarr.Array), "tools see the reference-resolving wrapper, as with h5py"
    assert isinstance(column.dataset, HDMFZarrArray)
    assert column.dataset.compressor == numcodecs.Zstd(level=0)  # the default codec, seen as zarr 2 showed it
    assert column.shape == column.dataset.shape == (1,)


def _is_uncompressed(field: Any) -> bool:
    """The decision nwbinspector 0.7's check_small/large_dataset_compression take for a zarr.Array."""
    return isinstance(field, zarr.Array) and field.compressor is None


def test_nwbinspector_style_compression_check(read_file):
    assert not _is_uncompressed(read_file.acquisition["blosc"].data)
    assert not _is_uncompressed(read_file.acquisition["sharded"].data)
    assert _is_uncompressed(read_file.acquisition["plain"].data)
    flagged = []
    for name, series in read_file.acquisition.items():
        for field in series.fields.values():
            if isinstance(field, zarr.Array) and field.compressor is None and field.size * field.dtype.itemsize > 0:
                flagged.append((name, field.name.rsplit("/", 1)[1]))
    assert ("plain", "data") in flagged and ("blosc", "data") not in flagged


def test_compressor_of_a_zarr_v2_array_is_its_numcodecs_compressor(tmp_path):
    array = zarr.create_array(tmp_path / "v2.zarr", shape=(4,), dtype="int32", zarr_format=2, compressors=None)
    array.__class__ = HDMFZarrArray
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert array.compressor is None
    array = zarr.create_array(
        tmp_path / "v2z.zarr", shape=(4,), dtype="int32", zarr_format=2, compressors=numcodecs.Zstd(level=1)
    )
    array.__class__ = HDMFZarrArray
    assert array.compressor == numcodecs.Zstd(level=1)


class _ThirdPartyCompressor(Crc32cCodec):
    """Stands for a zarr v3 compressor that numcodecs does not know."""


def test_compressor_without_a_numcodecs_equivalent_is_the_v3_codec():
    codec = _ThirdPartyCompressor()
    assert _legacy_codecs.zarr2_compressor((ZstdCodec(), codec)) is codec
    assert _legacy_codecs.zarr2_compressor(()) is None


def test_compressor_skips_checksums_and_byte_filters():
    shuffle, lz4 = wrappers.Shuffle(elementsize=4), wrappers.LZ4()
    assert _legacy_codecs.zarr2_compressor((shuffle, lz4, Crc32cCodec())) == numcodecs.LZ4()
    assert _legacy_codecs.zarr2_compressor((wrappers.CRC32(),)) == numcodecs.CRC32()


def test_zarr2_filters_view_puts_byte_filters_before_the_compressor(read_file):
    """zarr 2 had one compressor slot: the shuffle in front of it was a filter (what neuroconv expects there)."""
    data = read_file.acquisition["lz4_delta"].data
    view = _legacy_codecs.zarr2_filters(data.async_array.filters, data.compressors)
    assert view == (numcodecs.Delta(dtype="<i4", astype="<i4"), numcodecs.Shuffle(elementsize=4))
    assert data.filters == view
    assert all(isinstance(codec, numcodecs.abc.Codec) for codec in view)
    assert _legacy_codecs.zarr2_filters((), (ZstdCodec(), ZstdCodec())) == (numcodecs.Zstd(),)
    assert _legacy_codecs.zarr2_filters((), (ZstdCodec(level=2), Crc32cCodec())) is None
    assert _legacy_codecs.zarr2_filters((), ()) is None


# ------------------------------------------------------------------------------------------ numcodecs versions


@pytest.fixture
def wrapper_modules(monkeypatch):
    """Point the translation at other wrapper modules (as with an older zarr or numcodecs)."""

    def use(*names: str) -> None:
        monkeypatch.setattr(_legacy_codecs, "_WRAPPER_MODULES", names)
        _legacy_codecs._wrapper_module.cache_clear()
        _legacy_codecs._wrappers.cache_clear()

    yield use
    _legacy_codecs._wrapper_module.cache_clear()
    _legacy_codecs._wrappers.cache_clear()


def test_numcodecs_zarr3_wrappers_are_the_fallback(wrapper_modules):
    wrapper_modules("hdmf_zarr_no_such_module", "numcodecs.zarr3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dio = ZarrDataIO(DATA, compressor=numcodecs.LZ4())
    (codec,) = dio.io_settings["compressors"]
    assert codec.codec_name == "numcodecs.lz4"


def test_missing_wrapper_modules_give_a_clear_error(wrapper_modules):
    wrapper_modules("hdmf_zarr_no_such_module")
    with pytest.raises(TypeError, match=r"LZ4\(acceleration=1\).*zarr\.codecs\.numcodecs.*numcodecs\.zarr3"):
        ZarrDataIO(DATA, compressor=numcodecs.LZ4())
    with pytest.warns(DeprecationWarning):  # codecs with a native zarr v3 codec need no wrapper module
        assert ZarrDataIO(DATA, compressor=numcodecs.Zstd()).io_settings["compressors"] == [ZstdCodec()]
