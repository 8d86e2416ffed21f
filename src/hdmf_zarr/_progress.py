"""Progress bars for long writes, exports and conversions.

Library calls show none unless asked (``progress=True``, or a dict of tqdm keywords); the command
line turns them on. ``progress_bar`` returns a tqdm bar, or a stand-in that ignores updates, so
callers never test whether progress was requested.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._arrays import chunk_count as _chunks_in

ProgressOption = bool | dict[str, Any] | None


class NoProgress:
    """The bar used when no progress was requested: every call does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def wants_progress(option: ProgressOption) -> bool:
    return bool(option) or isinstance(option, dict)


def make_bar(option: ProgressOption, total: int | None, desc: str, unit: str = "chunk", leave: bool = True) -> Any:
    """A tqdm bar for ``option`` (True, or a dict of tqdm keywords), or a ``NoProgress``.

    Bars stay on the stream when done (``leave``), except the per-array ones of a many-array write."""
    if not wants_progress(option):
        return NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError("progress=True needs tqdm: pip install tqdm") from err
    keywords = {"total": total, "desc": desc, "unit": unit, "leave": leave, "dynamic_ncols": True}
    if isinstance(option, dict):
        keywords.update(option)
    return tqdm(**keywords)


@contextmanager
def progress_bar(
    option: ProgressOption, total: int | None, desc: str, unit: str = "chunk", leave: bool = True
) -> Iterator[Any]:
    """``make_bar`` as a context manager that closes the bar at the end."""
    bar = make_bar(option, total, desc, unit, leave)
    try:
        yield bar
    finally:
        bar.close()


def chunk_count(meta: Any) -> int:
    """The number of chunk objects (shards, when sharded) of an array with metadata ``meta``."""
    outer = getattr(meta.chunk_grid, "chunk_shape", None)
    if outer is None:
        return 1
    return _chunks_in(tuple(meta.shape), tuple(outer))
