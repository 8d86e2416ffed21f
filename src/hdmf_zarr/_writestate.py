"""The write-state mark: the root document says when a writer is at work on the file.

A writer marks the root ``zarr.json`` before it changes anything (the extra field
``hdmf_zarr.write_state``, ``{"must_understand": false, ...}``, so other readers ignore it) and replaces
the root document without the mark as its very last step. A file whose root still carries a mark was
not finished: its writer was killed, crashed, raised, or is still running.

* ``"writing"``: a new file (``w``, export, conversion). Readers refuse it (``IncompleteFileError``).
* ``"appending"``: an edit (``a``, ``r+``) of a finished file. The consolidated metadata in the marked
  root is still the file as it was before the edit, so readers that use it read that file; others refuse.

The last step replaces the root only if it is still the document this writer wrote: a second writer
that changed it in between makes the first fail with ``ConcurrentWriteError`` instead of losing rows.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.group import GroupMetadata
from zarr.core.sync import sync
from zarr.storage import FsspecStore

from ._convention import V3_DOCUMENT, WRITE_STATE_FIELD
from .errors import ConcurrentWriteError, IncompleteFileError

WRITING = "writing"
APPENDING = "appending"


def new_mark(state: str) -> dict[str, Any]:
    """The mark of a writer starting now: its state, host, process, a unique id and the time."""
    return {
        "must_understand": False,
        "state": state,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "writer": uuid.uuid4().hex,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_state(root: Any) -> dict[str, Any] | None:
    """The mark of the root metadata, or None for a finished file (or one written by other software)."""
    mark = (getattr(root, "extra_fields", None) or {}).get(WRITE_STATE_FIELD)
    return mark if isinstance(mark, dict) else None


def unmarked(root: GroupMetadata) -> GroupMetadata:
    """``root`` without the mark (zarr < 3.4.2 writes no extra fields of groups: nothing to remove there)."""
    fields = getattr(root, "extra_fields", None)
    if not fields or WRITE_STATE_FIELD not in fields or not dataclasses.is_dataclass(root):
        return root
    if "extra_fields" not in {f.name for f in dataclasses.fields(root)}:
        return root
    return dataclasses.replace(root, extra_fields={k: v for k, v in fields.items() if k != WRITE_STATE_FIELD})


def describe(mark: dict[str, Any]) -> str:
    """Who left the mark, for messages."""
    state, started = mark.get("state", "?"), mark.get("started", "?")
    return f"{state} since {started} by process {mark.get('pid', '?')} on {mark.get('host', '?')}"


def incomplete_error(location: str, mark: dict[str, Any], mode: str) -> IncompleteFileError:
    edit = mark.get("state") == APPENDING
    what = "An edit of it" if edit else "Its writer"
    hint = (
        f"Open it in mode 'r' to read the file as it was before that edit, run `hdmf-zarr repair --rollback "
        f"{location}` to put it back that way, "
        if edit
        else "Write it again, or open it with allow_incomplete=True to salvage what was written, "
    )
    return IncompleteFileError(
        f"Cannot open '{location}' in mode '{mode}': the file is incomplete. {what} did not finish (the root "
        f"zarr.json is marked {describe(mark)}): that process was killed, crashed or raised, or is still "
        f"running. {hint}or run `hdmf-zarr verify {location}` to see what is missing and `hdmf-zarr repair "
        f"{location}` to accept what is there."
    )


def read_root(store: Store) -> bytes | None:
    """The root document as stored (None when there is none)."""
    found = sync(store.get(V3_DOCUMENT, prototype=default_buffer_prototype()))
    return None if found is None else found.to_bytes()


def carries(document: bytes | None, mark: dict[str, Any]) -> bool:
    """True when the stored root ``document`` still carries this writer's ``mark``."""
    found = None if document is None else mark_of_document(document)
    return found is not None and found.get("writer") == mark.get("writer")


def replace_root(store: Store, document: bytes, accept: Callable[[bytes | None], bool], error: str) -> None:
    """Write ``document`` as the root zarr.json if ``accept(current root)``, else ConcurrentWriteError(error).

    On S3 the replacement is conditional on the ETag of the document that was accepted, so a writer that
    replaced it in between makes this one fail instead of being overwritten. Elsewhere the check and the
    write follow each other (a local folder is locked against other writers anyway).
    """
    s3 = _s3_location(store)
    if s3 is not None:
        sync(_replace_on_s3(store.fs, *s3, document, accept, error))
        return
    if not accept(read_root(store)):
        raise ConcurrentWriteError(error)
    sync(store.set(V3_DOCUMENT, default_buffer_prototype().buffer.from_bytes(document)))


def _s3_location(store: Store) -> tuple[str, str] | None:
    if not isinstance(store, FsspecStore) or "s3" not in tuple(store.fs.protocol):
        return None
    bucket, _, prefix = store.path.strip("/").partition("/")
    return bucket, f"{prefix}/{V3_DOCUMENT}" if prefix else V3_DOCUMENT


async def _replace_on_s3(
    fs: Any, bucket: str, key: str, document: bytes, accept: Callable[[bytes | None], bool], error: str
) -> None:
    try:
        found = await fs._call_s3("get_object", Bucket=bucket, Key=key)
        current, etag = await found["Body"].read(), found.get("ETag")
    except FileNotFoundError:
        current, etag = None, None
    if not accept(current):
        raise ConcurrentWriteError(error)
    match = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        await fs._call_s3("put_object", Bucket=bucket, Key=key, Body=document, **match)
    except Exception as err:  # noqa: BLE001 - s3fs maps botocore's errors to several types
        if "PreconditionFailed" in repr(err) or "412" in str(err):
            raise ConcurrentWriteError(error) from err
        raise
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")


def mark_document(document: bytes, mark: dict[str, Any]) -> bytes:
    """The stored root document ``document`` with ``mark`` added, everything else (consolidated block too) kept."""
    doc = json.loads(document)
    doc[WRITE_STATE_FIELD] = mark
    return json.dumps(doc, separators=(",", ":")).encode()


def mark_of_document(document: bytes) -> dict[str, Any] | None:
    try:
        mark = json.loads(document).get(WRITE_STATE_FIELD)
    except (ValueError, AttributeError):
        return None
    return mark if isinstance(mark, dict) else None
