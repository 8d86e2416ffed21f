"""Property-based round trips: builder trees drawn by hypothesis, written with ``ZarrIO.write_builder`` on a
folder, a zip file and a memory store, read back with ``read_builder`` and compared.

Drawn: numeric and boolean arrays of every spec dtype (NaN and infinities included) and shape (0-d and
0-length included), text and bytes datasets (empty strings, any Unicode), attribute values, and node names
taken from the legal names (docs/convention.md §1). Examples are few and bounded so the file runs in
well under a minute.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from zarr.storage import MemoryStore

from hdmf_zarr import ZarrIO
from hdmf_zarr._convention import DIMENSIONS_ATTR, RESERVED_ATTRS
from hdmf_zarr._names import name_problem
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

STORES = ["folder", "zip", "memory"]
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_COUNTER = itertools.count()


# ------------------------------------------------------------------------------------------ writing and reading


@contextmanager
def round_trip(
    store: str, tmp_path: Path, root: GroupBuilder, modes: tuple[str, ...] = ("r",)
) -> Iterator[list[GroupBuilder]]:
    """Write ``root`` to a fresh store of kind ``store``; the builder trees read back in each of ``modes``
    (their files stay open until the block ends)."""
    if store == "memory":
        memory: dict[str, Any] = {}
        target = lambda mode: MemoryStore(memory, read_only=mode in ("r", "r-"))  # noqa: E731
    else:
        path = tmp_path / f"{next(_COUNTER)}.zarr{'.zip' if store == 'zip' else ''}"
        target = lambda mode: path  # noqa: E731
    with ZarrIO(target("w"), "w") as io:
        io.write_builder(root)
    with ExitStack() as files:
        yield [files.enter_context(ZarrIO(target(mode), mode)).read_builder() for mode in modes]


def read_values(data: Any) -> np.ndarray:
    """A dataset read back as a numpy array (0-d values come back as scalars, text as Python str)."""
    if hasattr(data, "shape") and not isinstance(data, np.generic) and data.shape != ():
        return np.asarray(data[:])
    return np.asarray(data)


# ------------------------------------------------------------------------------------------ strategies

#: spec dtype -> numpy dtype, for numbers and booleans
NUMERIC = {
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float32": "f4",
    "float64": "f8",
    "bool": "?",
}
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
#: any Unicode text but unpaired surrogates (which have no UTF-8 form)
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


def _legal(name: str) -> bool:
    # "c" is legal, but a node named "c" is skipped by mode r-'s listing: see test_names.py
    return name_problem(name, 255) is None and name != "c"


NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=24).filter(_legal)


def _name_key(name: str) -> str:
    """Names that one file system folder could confuse (case-insensitive, Unicode-normalising ones)."""
    return unicodedata.normalize("NFC", name).casefold()


@st.composite
def numeric_arrays(draw: Any) -> tuple[str, np.ndarray]:
    spec = draw(st.sampled_from(sorted(NUMERIC)))
    dtype = np.dtype(NUMERIC[spec])
    elements = None
    if dtype.kind == "f":
        elements = st.floats(width=dtype.itemsize * 8, allow_nan=True, allow_infinity=True)
    return spec, draw(hnp.arrays(dtype, SHAPES, elements=elements))


@st.composite
def text_arrays(draw: Any) -> np.ndarray:
    shape = draw(SHAPES)
    values = draw(st.lists(TEXT, min_size=math.prod(shape), max_size=math.prod(shape)))
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INTS = st.integers(-(2**63), 2**63 - 1)
SCALARS = st.one_of(TEXT, INTS, FLOATS, st.booleans())
ATTRIBUTE_VALUES = st.one_of(
    SCALARS,
    st.lists(TEXT, max_size=4),
    st.lists(INTS, max_size=4),
    st.lists(FLOATS, max_size=4),
    st.lists(st.booleans(), max_size=4),
    # nested lists of numbers: the JSON form of a 2-D array (rows of one length)
    st.integers(1, 3).flatmap(lambda n: st.lists(st.lists(FLOATS, min_size=n, max_size=n), min_size=1, max_size=3)),
)
ATTRIBUTE_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12).filter(
    lambda name: name not in RESERVED_ATTRS and name not in (DIMENSIONS_ATTR, "g", "d")  # "g", "d": children
)


def same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and a bool is not a number (the stored JSON must keep the type)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------------------------ properties


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(drawn=numeric_arrays(), chunked=st.booleans(), data=st.data())
def test_numeric_datasets_round_trip(tmp_path, store, drawn, chunked, data):
    spec, values = drawn
    stored: Any = values
    if chunked and values.ndim:  # several chunks (1 to 3 elements a side), some partial, some empty
        stored = ZarrDataIO(values, chunks=tuple(data.draw(st.integers(1, 3)) for _ in values.shape))
    root = GroupBuilder("root", datasets={"d": DatasetBuilder("d", stored, spec)})
    with round_trip(store, tmp_path, root) as (read,):
        back = read_values(read["d"].data)
    assert back.shape == values.shape
    assert back.dtype == values.dtype
    np.testing.assert_array_equal(back, values)  # NaN equals NaN here
    if values.dtype.kind == "f":  # -0.0 stays negative (the sign of NaN: see test_a_nan_scalar_keeps_its_bits)
        numbers = ~np.isnan(values)
        assert np.array_equal(np.signbit(back)[numbers], np.signbit(values)[numbers])


@pytest.mark.parametrize("bits", [0xFFF8000000000000, 0x7FF8000000000123], ids=["negative", "payload"])
def test_a_nan_scalar_keeps_its_bits(tmp_path, bits):
    value = np.array([bits], dtype="<u8").view("<f8")[0]
    root = GroupBuilder("root", datasets={"s": DatasetBuilder("s", value, "float64")})
    with round_trip("folder", tmp_path, root) as (read,):
        assert np.asarray(read["s"].data).view("<u8") == bits


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(values=text_arrays(), spec=st.sampled_from(["text", "utf8", "bytes"]))
def test_text_datasets_round_trip(tmp_path, store, values, spec):
    data = values if spec != "bytes" else np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(values)
    if values.shape == ():
        data = data[()]  # a single str (bytes) rather than a 0-d array
    root = GroupBuilder("root", datasets={"t": DatasetBuilder("t", data, spec)})
    with round_trip(store, tmp_path, root) as (read,):
        back = read["t"].data if values.shape == () else read_values(read["t"].data)
    if values.shape == ():
        assert type(back) is str and back == values[()]
    else:
        assert back.shape == values.shape
        assert back.tolist() == values.tolist()


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(attributes=st.dictionaries(ATTRIBUTE_NAMES, ATTRIBUTE_VALUES, max_size=5))
def test_attributes_round_trip(tmp_path, store, attributes):
    root = GroupBuilder("root", attributes=attributes)
    root.set_group(GroupBuilder("g", attributes=attributes))
    root.set_dataset(DatasetBuilder("d", data=[1, 2], attributes=attributes))
    with round_trip(store, tmp_path, root) as (read,):
        for builder in (read, read["g"], read["d"]):
            got = dict(builder.attributes)
            assert set(got) == set(attributes)
            for name, value in attributes.items():
                assert same(got[name], value), (name, value, got[name])


@st.composite
def trees(draw: Any) -> GroupBuilder:
    """A root with up to three groups, each holding datasets, a subgroup and a link, all with drawn names."""
    root = GroupBuilder("root")
    target = DatasetBuilder("target", data=np.arange(2))
    root.set_dataset(target)
    group_names = st.lists(NAMES.filter(lambda name: name != "target"), max_size=3, unique_by=_name_key)
    for group_name in draw(group_names):
        group = GroupBuilder(group_name, attributes={"": group_name})  # "" is never a child's name
        root.set_group(group)
        names = draw(st.lists(NAMES, min_size=1, max_size=4, unique_by=_name_key))
        *datasets, last = names
        for index, name in enumerate(datasets):
            group.set_dataset(DatasetBuilder(name, data=np.arange(index + 1)))
        if draw(st.booleans()):
            group.set_link(LinkBuilder(target, name=last))
        else:
            group.set_group(GroupBuilder(last, datasets={last: DatasetBuilder(last, data=[7])}))
    return root


def assert_same_tree(written: GroupBuilder, read: GroupBuilder) -> None:
    assert set(read.groups) == set(written.groups), (written.name, list(read.groups), list(written.groups))
    assert set(read.datasets) == set(written.datasets)
    assert set(read.links) == set(written.links)
    assert dict(read.attributes) == dict(written.attributes)
    for name, dataset in written.datasets.items():
        assert read_values(read.datasets[name].data).tolist() == np.asarray(dataset.data).tolist()
    for name, link in written.links.items():
        assert read.links[name].builder.name == link.builder.name
    for name, group in written.groups.items():
        assert_same_tree(group, read.groups[name])


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(root=trees())
def test_legal_node_names_round_trip(tmp_path, store, root):
    with round_trip(store, tmp_path, root, modes=("r", "r-")) as reads:
        for read in reads:
            assert_same_tree(root, read)
