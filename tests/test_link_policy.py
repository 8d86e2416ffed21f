"""External links stay where they belong: the link policy (``external_link_policy``) on hostile files.

A file's ``_LINKS`` entries are data from whoever wrote the file. By default a link may lead only to a store
in the linking file's folder or below it (the same scheme, host or bucket and prefix for URLs); anything
else raises UnsafeLinkError before a file is opened or a request is sent.
"""

from __future__ import annotations

import builtins
import http.server
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder
from zarr.storage import MemoryStore

from hdmf_zarr import ZarrIO
from hdmf_zarr._read.linkpolicy import LinkPolicy
from hdmf_zarr.errors import UnsafeLinkError

FIX = "external_link_policy="


# ------------------------------------------------------------------------------------------ helpers


def write(path: Path | str, root: GroupBuilder, **kwargs: Any) -> None:
    with ZarrIO(path, "w", **kwargs) as io:
        io.write_builder(root)


def target_tree() -> GroupBuilder:
    x = DatasetBuilder("x", data=np.arange(5, dtype=np.int16), attributes={"unit": "m"})
    return GroupBuilder("root", groups={"g": GroupBuilder("g", datasets={"x": x})})


def linker_tree(target: Path | str, **kwargs: Any) -> GroupBuilder:
    """A tree whose group ``holder`` links the dataset ``/g/x`` of the store at ``target``."""
    with ZarrIO(target, "r", **kwargs) as io:
        holder = GroupBuilder("holder")
        holder.set_link(LinkBuilder(io.read_builder()["g/x"], name="ext"))
    return GroupBuilder("root", groups={"holder": holder})


def set_links(store: Path, key: str, entries: list[dict[str, str]]) -> None:
    """Replace the ``_LINKS`` of the group at ``key``: its zarr.json and its copy in the consolidated block."""
    document = store / key / "zarr.json"
    node = json.loads(document.read_text())
    node["attributes"]["_LINKS"] = entries
    document.write_text(json.dumps(node))
    if key:
        root = json.loads((store / "zarr.json").read_text())
        root["consolidated_metadata"]["metadata"][key]["attributes"]["_LINKS"] = entries
        (store / "zarr.json").write_text(json.dumps(root))


def hostile_file(folder: Path, source: str, path: str = "/x") -> Path:
    """``folder/f.zarr`` whose group ``g`` holds the link ``evil`` to ``path`` in ``source``."""
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "f.zarr"
    write(store, target_tree())
    set_links(store, "g", [{"source": source, "path": path, "name": "evil"}])
    return store


def inside(path: str, folder: str | Path) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


class Recorder:
    """Every location handed to open_store, FsspecStore.from_url, builtins.open and os.path.exists."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def wrap(self, what: str, func: Any) -> Any:
        def recorded(location: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(location, (str, os.PathLike)):
                self.calls.append((what, os.fspath(location)))
            return func(location, *args, **kwargs)

        return recorded

    def outside(self, root: Path) -> list[tuple[str, str]]:
        """The calls for URLs or for local paths outside ``root`` (the Python installation aside)."""
        allowed = (root, sys.prefix, sys.base_prefix)
        return [
            (what, loc)
            for what, loc in self.calls
            if "://" in loc or not any(inside(loc, folder) for folder in allowed)
        ]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    import hdmf_zarr._stores
    import hdmf_zarr.backend

    rec = Recorder()
    monkeypatch.setattr(hdmf_zarr.backend, "open_store", rec.wrap("open_store", hdmf_zarr.backend.open_store))
    monkeypatch.setattr(hdmf_zarr._stores, "open_store", rec.wrap("open_store", hdmf_zarr._stores.open_store))
    from_url = zarr.storage.FsspecStore.from_url
    monkeypatch.setattr(zarr.storage.FsspecStore, "from_url", rec.wrap("from_url", from_url))
    monkeypatch.setattr(builtins, "open", rec.wrap("open", builtins.open))
    monkeypatch.setattr(os.path, "exists", rec.wrap("exists", os.path.exists))
    return rec


class _Recording(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        self.server.requests.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        return super().send_head()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """``(base URL, requests received)`` of an HTTP server on 127.0.0.1 serving ``tmp_path/served``."""
    served = tmp_path / "served"
    served.mkdir()

    def handler(*args: Any) -> _Recording:
        return _Recording(*args, directory=str(served))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------ hostile local files

HOSTILE_SOURCES = [
    "/etc",
    "../../../../etc",
    "../" * 40 + "etc",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/x.zarr",
    "http://[fe80::1]/x.zarr",
    "s3://other-bucket/x.zarr",
    "simplecache::s3://other-bucket/x.zarr",
]


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_hostile_sources_are_refused_before_anything_is_opened(tmp_path, recorder, source):
    box = tmp_path / "box"
    store = hostile_file(box, source)
    recorder.calls.clear()
    with ZarrIO(store, "r") as io, pytest.raises(UnsafeLinkError) as raised:
        io.read_builder()
    message = str(raised.value)
    assert "the external link to '/x'" in message and source in message and str(store) in message and FIX in message
    assert isinstance(raised.value, PermissionError)
    assert recorder.outside(box) == []


@pytest.mark.parametrize("source", ["/etc", "file:///etc/passwd", "s3://other-bucket/x.zarr"])
def test_resolve_ref_checks_the_policy_too(tmp_path, recorder, source):
    store = tmp_path / "box" / "f.zarr"
    store.parent.mkdir()
    write(store, target_tree())
    recorder.calls.clear()
    with ZarrIO(store, "r") as io, pytest.raises(UnsafeLinkError, match="the external link to '/passwd'"):
        io.resolve_ref({"source": source, "path": "/passwd"})
    assert recorder.outside(tmp_path / "box") == []


def test_a_symlink_inside_the_folder_to_a_store_outside_is_refused(tmp_path, recorder):
    outside = tmp_path / "outside" / "t.zarr"
    outside.parent.mkdir()
    write(outside, target_tree())
    box = tmp_path / "box"
    box.mkdir()
    (box / "evil.zarr").symlink_to(outside, target_is_directory=True)
    store = hostile_file(box, "../evil.zarr", "/g/x")
    recorder.calls.clear()
    with ZarrIO(store, "r") as io, pytest.raises(UnsafeLinkError, match="symlinks"):
        io.read_builder()
    assert not [call for call in recorder.calls if "evil" in call[1] or str(outside) in call[1]]
    with ZarrIO(store, "r", external_link_policy="any") as io:  # the link itself is sound
        assert io.read_builder()["g"].links["evil"].builder.data[:].tolist() == [0, 1, 2, 3, 4]


def test_a_local_file_sends_no_request_to_a_linked_url(tmp_path, http_server):
    base, requests = http_server
    store = hostile_file(tmp_path / "box", f"{base}/x.zarr")
    with ZarrIO(store, "r") as io, pytest.raises(UnsafeLinkError, match="the linking file is local"):
        io.read_builder()
    assert requests == []


# ------------------------------------------------------------------------------------------ what is followed


@pytest.mark.parametrize("target", ["other.zarr", "sub/deeper/t.zarr"], ids=["sibling", "subfolder"])
def test_stores_next_to_the_file_or_below_its_folder_are_followed_by_default(tmp_path, target):
    box = tmp_path / "box"
    (box / target).parent.mkdir(parents=True, exist_ok=True)
    write(box / target, target_tree())
    linker = box / "f.zarr"
    write(linker, linker_tree(box / target))
    with ZarrIO(linker, "r") as io:
        data = io.read_builder()["holder"].links["ext"].builder
        assert data.source == str(box / target) and data.data[:].tolist() == [0, 1, 2, 3, 4]


def test_any_follows_an_absolute_path_elsewhere(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "t.zarr"
    elsewhere.parent.mkdir()
    write(elsewhere, target_tree())
    store = hostile_file(tmp_path / "box", str(elsewhere), "/g/x")
    with ZarrIO(store, "r") as io, pytest.raises(UnsafeLinkError):
        io.read_builder()
    with ZarrIO(store, "r", external_link_policy="any") as io:
        assert io.read_builder()["g"].links["evil"].builder.data[:].tolist() == [0, 1, 2, 3, 4]
        assert io.resolve_ref({"source": str(elsewhere), "path": "/g/x"})[1][:].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("as_type", [str, Path], ids=["str", "Path"])
def test_a_list_policy_allows_its_roots_besides_the_default(tmp_path, as_type):
    elsewhere = tmp_path / "elsewhere" / "t.zarr"
    elsewhere.parent.mkdir()
    write(elsewhere, target_tree())
    write(tmp_path / "box" / "sibling.zarr", target_tree())
    store = hostile_file(tmp_path / "box", str(elsewhere), "/g/x")
    set_links(
        store,
        "g",
        [
            {"source": str(elsewhere), "path": "/g/x", "name": "evil"},
            {"source": "../sibling.zarr", "path": "/g/x", "name": "near"},
        ],
    )
    with ZarrIO(store, "r", external_link_policy=[as_type(tmp_path / "elsewhere")]) as io:
        links = io.read_builder()["g"].links
        assert links["evil"].builder.source == str(elsewhere)
        assert links["near"].builder.source == str(tmp_path / "box" / "sibling.zarr")
    with ZarrIO(store, "r", external_link_policy=(str(tmp_path / "unrelated"),)) as io, pytest.raises(UnsafeLinkError):
        io.read_builder()


def test_a_memory_store_follows_no_external_link():
    store = MemoryStore()
    write(store, target_tree())
    with ZarrIO(store, "r") as io, pytest.raises(ValueError, match="no location"):
        io.resolve_ref({"source": "../other.zarr", "path": "/g"})


# ------------------------------------------------------------------------------------------ policy values


@pytest.mark.parametrize(
    "value",
    [42, True, "all", "/some/folder", ["any"], [""], [3], ["file:///etc"], ["s3://"], {"any": True}],
    ids=repr,
)
def test_bad_policy_values_raise_value_error(value):
    with pytest.raises(ValueError, match="external_link_policy"):
        LinkPolicy.from_option(value)


def test_a_bad_policy_value_fails_the_read_that_follows_a_link(tmp_path):
    write(tmp_path / "box" / "other.zarr", target_tree())
    store = hostile_file(tmp_path / "box", "../other.zarr", "/g/x")
    with pytest.raises(ValueError, match="external_link_policy"):
        with ZarrIO(store, "r", external_link_policy="everything") as io:
            io.read_builder()


@pytest.mark.parametrize(
    ("here", "target"),
    [
        ("s3://a/data/f.zarr", "s3://a/data/other.zarr"),
        ("s3://a/data/f.zarr", "s3://a/data/sub/other.zarr"),
        ("s3://a/f.zarr", "s3://a/anything/else.zarr"),
        ("S3://a/data/f.zarr", "s3://A/data/other.zarr"),
        ("http://10.0.0.1/data/f.zarr", "http://10.0.0.1/data/other.zarr"),  # the same private host serves both
        ("https://example.org/data/f.zarr", "https://example.org/data/x/y.zarr"),
    ],
)
def test_urls_below_the_linking_prefix_are_allowed(here, target):
    assert LinkPolicy().refusal(here, target) is None


@pytest.mark.parametrize(
    ("here", "target", "reason"),
    [
        ("s3://a/data/f.zarr", "s3://b/data/other.zarr", "another host or bucket"),
        ("s3://a/data/f.zarr", "s3://a/other/x.zarr", "prefix"),
        ("s3://a/data/f.zarr", "s3://a/data/../other/x.zarr", "prefix"),
        ("s3://a/data/f.zarr", "s3://a/data/%2e%2e/other/x.zarr", "prefix"),
        ("s3://a/data/f.zarr", "s3://a/data/x?/../../../other", "prefix"),
        ("s3://a/data/f.zarr", "s3://a/data", "prefix"),
        ("s3://a/data/f.zarr", "gs://a/data/x.zarr", "gs://"),
        ("s3://a/data/f.zarr", "/etc", "local path"),
        ("s3://a/data/f.zarr", "file:///etc/passwd", "file://"),
        ("https://example.org/d/f.zarr", "http://example.org/d/x.zarr", "http://"),
        ("https://example.org/d/f.zarr", "https://169.254.169.254/latest/meta-data", "link-local"),
        ("http://169.254.169.254/d/f.zarr", "http://169.254.169.254/d/x.zarr", "link-local"),
        ("https://example.org/d/f.zarr", "https://[::ffff:169.254.169.254]/x", "link-local"),
        ("https://example.org/d/f.zarr", "https://[fe80::1]/x", "link-local"),
        ("https://example.org/d/f.zarr", "https://127.0.0.1/d/x.zarr", "loopback"),
        ("https://example.org/d/f.zarr", "https://192.168.1.1/d/x.zarr", "private"),
        ("https://example.org/d/f.zarr", "https://172.16.0.1/d/x.zarr", "private"),
        ("https://example.org/d/f.zarr", "https://[fc00::1]/d/x.zarr", "private"),
        ("https://example.org/d/f.zarr", "https://example.org:8443/d/x.zarr", "another host"),
        ("https://example.org/d/f.zarr", "https://user@example.org/d/x.zarr", "another host"),
        ("https://example.org/d/f.zarr", "https://example.org.evil.com/d/x.zarr", "another host"),
        ("/data/box/f.zarr", "https://example.org/x.zarr", "local"),
        ("/data/box/f.zarr", "/data/other/x.zarr", "outside"),
        ("/data/box/f.zarr", "/data/box", "outside"),
    ],
)
def test_urls_and_paths_elsewhere_are_refused(here, target, reason):
    refusal = LinkPolicy().refusal(here, target)
    assert refusal is not None and reason in refusal


def test_url_roots_allow_their_prefix_only():
    policy = LinkPolicy.from_option(["s3://shared/lib/"])
    assert policy.roots == ("s3://shared/lib",)
    assert policy.refusal("/data/f.zarr", "s3://shared/lib/x.zarr") is None
    assert policy.refusal("s3://a/f.zarr", "s3://shared/lib/sub/x.zarr") is None
    assert policy.refusal("s3://a/f.zarr", "s3://shared/library/x.zarr") is not None
    assert policy.refusal("s3://a/f.zarr", "s3://shared/lib/../x.zarr") is not None
    assert policy.refusal("s3://a/f.zarr", "gs://shared/lib/x.zarr") is not None
    assert LinkPolicy.from_option("any").refusal("s3://a/f.zarr", "file:///etc/passwd") is None


# ------------------------------------------------------------------------------------------ legacy v2 files


def _v2_file_linking(testdata: Path, store: Path, source: str) -> Path:
    """A copy of a small v2 corpus store whose ``analysis`` group links ``/units`` of ``source``."""
    from _v2stores import SMALL_STORE, copy_store

    copy_store(SMALL_STORE, store)
    attrs_file = store / "analysis" / ".zattrs"
    attrs = json.loads(attrs_file.read_text()) if attrs_file.exists() else {}
    attrs["zarr_link"] = [{"name": "linked", "source": source, "path": "/units"}]
    attrs_file.write_text(json.dumps(attrs))
    meta = json.loads((store / ".zmetadata").read_text())
    meta["metadata"]["analysis/.zattrs"] = attrs
    (store / ".zmetadata").write_text(json.dumps(meta))
    return store


@pytest.mark.parametrize("source", ["/etc", "../" * 40 + "etc", "../outside/other.nwb.zarr"])
def test_legacy_v2_links_are_checked_too(testdata, tmp_path, recorder, source):
    from _v2stores import SMALL_STORE, copy_store

    copy_store(SMALL_STORE, tmp_path / "outside" / "other.nwb.zarr")
    store = _v2_file_linking(testdata, tmp_path / "box" / "here.nwb.zarr", source)
    recorder.calls.clear()
    with ZarrIO(str(store), "r") as io, pytest.raises(UnsafeLinkError, match="the external link to '/units'"):
        io.read_builder()
    assert recorder.outside(tmp_path / "box") == []
    if "outside" in source:  # sources of hdmf-zarr <= 0.10 are relative to the folder holding the store
        with ZarrIO(str(store), "r", external_link_policy="any") as io:
            target = io.read_builder()["analysis"].links["linked"].builder
            assert Path(target.source) == tmp_path / "outside" / "other.nwb.zarr"


# ------------------------------------------------------------------------------------------ http and S3


def test_a_file_served_over_http_follows_its_neighbours_only(tmp_path, http_server):
    pytest.importorskip("aiohttp")
    base, requests = http_server
    served = tmp_path / "served" / "d"
    served.mkdir()
    write(served / "other.zarr", target_tree())
    write(served / "f.zarr", linker_tree(served / "other.zarr"))
    with ZarrIO(f"{base}/d/f.zarr", "r") as io:
        assert io.read_builder()["holder"].links["ext"].builder.data[:].tolist() == [0, 1, 2, 3, 4]
    assert "GET /d/other.zarr/zarr.json" in requests

    set_links(served / "f.zarr", "holder", [{"source": "http://localhost:1/d/x.zarr", "path": "/g/x", "name": "ext"}])
    requests.clear()
    with ZarrIO(f"{base}/d/f.zarr", "r") as io, pytest.raises(UnsafeLinkError, match="another host"):
        io.read_builder()
    assert all(line.startswith("GET /d/f.zarr/") for line in requests)


def test_s3_links_stay_in_the_bucket_and_prefix(s3_server, s3_bucket):
    options = {"storage_options": s3_server.storage_options()}
    other_bucket = s3_bucket + "-b"
    s3_server.create_bucket(other_bucket)
    raw = s3_server.url(s3_bucket, "data/raw.zarr")
    write(raw, target_tree(), **options)
    write(s3_server.url(other_bucket, "raw.zarr"), target_tree(), **options)
    cases = {
        "data/near.zarr": (raw, None),  # a sibling in the same prefix: followed
        "derived/far.zarr": (raw, "prefix"),  # another prefix of the bucket
        "data/cross.zarr": (s3_server.url(other_bucket, "raw.zarr"), "another host or bucket"),
    }
    for key, (target, refused) in cases.items():
        write(s3_server.url(s3_bucket, key), linker_tree(target, **options), **options)
        s3_server.requests.reset()
        with ZarrIO(s3_server.url(s3_bucket, key), "r", **options) as io:
            if refused is None:
                assert io.read_builder()["holder"].links["ext"].builder.data[:].tolist() == [0, 1, 2, 3, 4]
                continue
            with pytest.raises(UnsafeLinkError, match=refused):
                io.read_builder()
        assert not [line for line in s3_server.requests.lines if "raw.zarr" in line], key
    cross = s3_server.url(s3_bucket, "data/cross.zarr")
    with ZarrIO(cross, "r", external_link_policy=[f"s3://{other_bucket}"], **options) as io:
        assert io.read_builder()["holder"].links["ext"].builder.source == s3_server.url(other_bucket, "raw.zarr")
