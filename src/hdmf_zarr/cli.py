"""The ``hdmf-zarr`` command: look inside, convert and validate NWB files stored as Zarr.

Exit status: 0 when the command did what was asked, 1 when it failed or found problems, 2 for a bad
command line. Errors are printed as one line; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import click

from ._version import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _debug_enabled() -> bool:
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return bool(root is not None and (root.obj or {}).get("debug"))


def _show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    click.echo(f"Warning: {message}", err=True)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command with warnings as one line each, and errors as ``Error: ...`` (exit 1) unless --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = _debug_enabled()
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = _show_warning
                warnings.simplefilter("once")
            try:
                return func(*args, **kwargs)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except KeyboardInterrupt:
                raise click.Abort() from None
            except Exception as err:
                if debug:
                    raise
                raise click.ClickException(_describe(err)) from None

    return wrapper


def _describe(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, (FileNotFoundError, FileExistsError, PermissionError)) and err.filename:
        text = f"{err.strerror or text}: '{err.filename}'"
    plain = (ValueError, OSError, TypeError, KeyError, RuntimeError)
    prefix = "" if type(err) in plain or type(err).__name__.endswith("ConversionError") else f"{type(err).__name__}: "
    return prefix + text + "  (run with --debug for the traceback)"


@click.group(name="hdmf-zarr", context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="hdmf-zarr")
@click.option("--debug", is_flag=True, help="Show the full traceback when a command fails.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Inspect, convert and validate NWB files stored as Zarr (hdmf_zarr).

    Run `hdmf-zarr COMMAND --help` for the options of each command.
    """
    ctx.ensure_object(dict)["debug"] = debug


def _storage_options(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    import json

    try:
        options = json.loads(value)
    except ValueError as err:
        raise click.BadParameter(f"is not JSON ({err})", ctx=ctx, param=param) from None
    if not isinstance(options, dict):
        raise click.BadParameter("must be a JSON object of fsspec options", ctx=ctx, param=param)
    return options


_STORAGE_OPTIONS = click.option(
    "--storage-options",
    metavar="JSON",
    callback=_storage_options,
    help='fsspec options for a URL, as a JSON object, e.g. \'{"anon": true}\' or \'{"client_kwargs": '
    '{"endpoint_url": "http://localhost:9000"}}\'.',
)


# ------------------------------------------------------------------------------------------- info
@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path())
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Show this many levels of the tree.")
@click.option(
    "--max-children",
    type=click.IntRange(min=1),
    default=40,
    show_default=True,
    help="Entries listed per group before the rest are counted.",
)
@click.option("--all", "show_all", is_flag=True, help="List every entry (no --max-children limit).")
@click.option("--ascii", "ascii_only", is_flag=True, help="Draw the tree with ASCII characters only.")
@_STORAGE_OPTIONS
@click.option("--branch", help="Icechunk repositories: show the tip of this branch [default: main].")
@click.option("--tag", help="Icechunk repositories: show the snapshot of this tag.")
@click.option("--snapshot", "snapshot_id", metavar="ID", help="Icechunk repositories: show this snapshot.")
@click.option(
    "--history",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Icechunk repositories: list this many of the commits that led to the snapshot shown.",
)
@friendly_errors
def info(
    path: str,
    depth: int | None,
    max_children: int,
    show_all: bool,
    ascii_only: bool,
    storage_options: dict[str, Any] | None,
    branch: str | None,
    tag: str | None,
    snapshot_id: str | None,
    history: int,
) -> None:
    """Show what a Zarr NWB file holds.

    The object tree with neurodata types, shapes, data types, chunks, codecs, logical and stored
    size and compression ratio per dataset, plus totals and the number of files. Node metadata is
    read from the consolidated metadata (one document); sizes from the store's file listing.

    PATH may also be an Icechunk repository (a local folder or an s3:// prefix holding one): then the
    tip of a branch (default main), a tag or a snapshot is shown, with its snapshot id and last commits.
    """
    from ._icechunk import Version
    from ._summary import summarize

    try:
        version = Version(branch, tag, snapshot_id)
    except ValueError:
        raise click.UsageError("Give at most one of --branch, --tag and --snapshot.") from None
    _quiet_icechunk(path)
    summary = summarize(path, storage_options=storage_options, version=version, history=history)
    text = summary.format(
        max_children=None if show_all else max_children, max_depth=depth, unicode=False if ascii_only else None
    )
    click.echo(text)


def _quiet_icechunk(path: str, force: bool = False) -> None:
    """Icechunk's own warnings (meant for library users) stay off the command's output."""
    from ._icechunk import is_local_repository, quiet_logs

    if force or is_local_repository(path) or path.startswith(("s3://", "s3a://")):
        try:
            quiet_logs()
        except ImportError:
            pass


# ------------------------------------------------------------------------------------------- convert
def _compressor_option(ctx: click.Context, param: click.Parameter, value: str | None) -> list[Any] | None:
    if value is None:
        return None
    from ._convert.convert import ConversionError, parse_compressor

    try:
        return parse_compressor(value)
    except ConversionError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


def _source_argument(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if "://" not in value and not os.path.lexists(value):
        raise click.BadParameter(f"Path '{value}' does not exist.", ctx=ctx, param=param)
    return value


@cli.command(context_settings=CONTEXT)
@click.argument("src", callback=_source_argument)
@click.argument("dst", type=click.Path())
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Datasets copied at the same time."
)
@click.option(
    "--chunk-copy/--recompress",
    default=True,
    show_default=True,
    help="Copy stored chunks as they are where source and destination codecs match, or decode and "
    "re-encode every chunk.",
)
@click.option(
    "--compressor",
    metavar="NAME[:LEVEL]",
    callback=_compressor_option,
    help="Compress every dataset with this codec instead of the source's: zstd, blosc, lz4, gzip or none "
    "(Zarr destinations).",
)
@click.option(
    "--copy-links",
    is_flag=True,
    help="Copy objects that an HDF5 source links from other HDF5 files into the new file, instead of "
    "converting those files next to it and linking there.",
)
@click.option(
    "--icechunk",
    is_flag=True,
    help="Write DST as an Icechunk repository (a local folder or an s3:// prefix), in one commit on its branch "
    "main; objects linked from other HDF5 files are copied in.",
)
@click.option(
    "--virtual",
    is_flag=True,
    help="HDF5 SRC (a path or s3:// URL): write DST with references to SRC's chunks instead of copies: one JSON "
    "reference file when DST ends in .json, else an Icechunk repository.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace DST if it exists (an Icechunk repository: commit the new content on top of its history).",
)
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Zarr v2 sources: unpickle any object the file holds (this runs code the file names).",
)
@_STORAGE_OPTIONS
@click.option("--progress/--no-progress", default=None, help="Show a progress bar [default: when on a terminal].")
@friendly_errors
def convert(
    src: str,
    dst: str,
    jobs: int,
    chunk_copy: bool,
    compressor: list[Any] | None,
    copy_links: bool,
    icechunk: bool,
    virtual: bool,
    overwrite: bool,
    allow_pickle: bool,
    storage_options: dict[str, Any] | None,
    progress: bool | None,
) -> None:
    """Convert SRC into DST: HDF5 -> Zarr, Zarr -> HDF5, Zarr -> Zarr, or Zarr v2 -> Zarr v3.

    The direction comes from SRC's content and DST's name: .zarr (or .zarr.zip) makes a Zarr v3
    store, .nwb, .h5 or .hdf5 an HDF5 file; with --icechunk, DST is an Icechunk repository whatever
    its name. Chunking and compression are carried over; chunks whose codecs match are copied
    without recompressing them. With --virtual, DST references SRC's chunks instead (see
    hdmf_zarr.virtual). --storage-options apply to s3:// URLs.
    """
    from tqdm import tqdm

    from ._convert import convert as _convert

    if virtual:
        others = icechunk or compressor is not None or copy_links or not chunk_copy
        _convert_virtual(src, dst, others, storage_options, overwrite)
        return
    try:
        target = "icechunk" if icechunk else _convert.destination_format(dst)
    except _convert.ConversionError as err:
        raise click.BadParameter(str(err), param_hint="DST") from None
    if storage_options is not None and "://" not in dst and "://" not in src:
        raise click.BadParameter("apply to URLs (s3://...) only", param_hint="--storage-options")
    if icechunk:
        _quiet_icechunk(dst, force=True)
    if target == "hdf5" and compressor is not None:
        raise click.BadParameter("applies to Zarr destinations only", param_hint="--compressor")
    kind = _convert.source_format(src)
    total = _convert.logical_bytes(src, kind) if progress is not False else 0
    started = time.perf_counter()
    with tqdm(
        total=total or None,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"{_convert.FORMAT_NAMES[kind]} -> {_convert.FORMAT_NAMES[target]}",
        disable=None if progress is None else not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        _convert.convert(
            src,
            dst,
            jobs=jobs,
            chunk_copy=chunk_copy,
            compressors=compressor,
            copy_links=copy_links,
            overwrite=overwrite,
            allow_pickle=allow_pickle,
            progress=bar.update,
            icechunk=icechunk,
            storage_options=storage_options,
        )
    elapsed = time.perf_counter() - started
    written = _convert.FORMAT_NAMES[target]
    if icechunk:
        from ._icechunk import DEFAULT_BRANCH, open_repository

        snapshot = open_repository(dst, storage_options).lookup_branch(DEFAULT_BRANCH)
        written = f"Icechunk repository, branch {DEFAULT_BRANCH} at snapshot {snapshot}"
    click.echo(f"Converted {src} ({_convert.FORMAT_NAMES[kind]}) -> {dst} ({written}) in {elapsed:.1f} s")


def _convert_virtual(
    src: str, dst: str, other_options: bool, storage_options: dict[str, Any] | None, overwrite: bool
) -> None:
    from .virtual import virtualize

    if other_options:
        raise click.BadParameter(
            "references SRC's chunks as they are: leave out --icechunk (DST's name chooses), --compressor, "
            "--copy-links and --recompress",
            param_hint="--virtual",
        )
    if storage_options is not None and "://" not in dst and "://" not in src:
        raise click.BadParameter("apply to URLs (s3://...) only", param_hint="--storage-options")
    if not dst.lower().endswith(".json"):
        _quiet_icechunk(dst, force=True)
    made = virtualize(src, dst, storage_options=storage_options, overwrite=overwrite)
    what = "JSON reference file" if made.kind == "json" else "Icechunk repository"
    size = f", {made.size:,} bytes" if made.size is not None else ""
    click.echo(
        f"Virtualized {src} -> {dst} ({what}{size}): {made.referenced_chunks:,} chunks referenced "
        f"({made.referenced_bytes:,} bytes of {src} left in place), {made.stored_arrays:,} arrays stored, "
        f"in {made.seconds:.1f} s"
    )


# ------------------------------------------------------------------------------------------- validate
@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(exists=True))
@click.option("--namespace", help="Validate against this namespace only [default: the namespaces cached in the file].")
@friendly_errors
def validate(path: str, namespace: str | None) -> None:
    """Check an NWB file against the NWB schema (pynwb.validate); exit status 1 when it does not conform."""
    import pynwb

    import hdmf_zarr.nwb  # noqa: F401 - registers NWBZarrIO so that pynwb can open Zarr paths

    errors = pynwb.validate(path=path, namespace=namespace)
    for error in errors:
        click.echo(str(error))
    if errors:
        raise click.ClickException(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} found in {path}")
    click.echo(f"{path}: no problems found")


# ------------------------------------------------------------------------------------------- verify, repair
def _open(path: str, mode: str, storage_options: dict[str, Any] | None) -> Any:
    from ._stores import normalize_path, open_store

    return open_store(normalize_path(path), mode, storage_options)


@cli.command(context_settings=CONTEXT)
@click.argument("path")
@click.option("--no-decode", is_flag=True, help="Only check that the chunks exist (one listing per dataset).")
@_STORAGE_OPTIONS
@click.option("--progress/--no-progress", default=None, help="Show a progress bar [default: when on a terminal].")
@friendly_errors
def verify(path: str, no_decode: bool, storage_options: dict[str, Any] | None, progress: bool | None) -> None:
    """Check a Zarr v3 file end to end: metadata, consolidated metadata, chunks.

    Reads every node's zarr.json (listing the store, not trusting the consolidated metadata), compares
    them with the consolidated metadata, checks that every chunk the writer stored is there and that
    every stored chunk decodes, and reports an unfinished writer. Prints one line per problem and a
    summary; exit status 1 when problems were found (warnings alone do not count). PATH may be a URL.
    """
    from ._verify import verify_store

    bar: Any = {"disable": None, "file": sys.stderr, "leave": False} if progress is None else progress
    store = _open(path, "r", storage_options)
    try:
        report = verify_store(store, decode=not no_decode, progress=bar)
    finally:
        store.close()
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary())
    if not report.ok:
        raise click.exceptions.Exit(1)


@cli.command(context_settings=CONTEXT)
@click.argument("path")
@click.option("--force", is_flag=True, help="Also accept a new file whose writer never finished (it may lack data).")
@click.option(
    "--rollback",
    is_flag=True,
    help="Undo an unfinished edit instead: put the file back as its consolidated metadata describes it.",
)
@_STORAGE_OPTIONS
@friendly_errors
def repair(path: str, force: bool, rollback: bool, storage_options: dict[str, Any] | None) -> None:
    """Rebuild the consolidated metadata from the node documents and clear an unfinished writer's mark.

    An interrupted edit (mode 'a' or 'r+') is accepted as it is; a new file whose writer never finished
    only with --force. Refuses (exit status 1) a file whose node documents are damaged or missing; run
    `hdmf-zarr verify PATH` to see everything that is wrong. Chunks are never changed.
    """
    from ._repair import repair_store

    store = _open(path, "r+", storage_options)
    if rollback:
        _roll_back(path, store)
        return
    try:
        report = repair_store(store, force=force)
    finally:
        store.close()
    for problem in report.problems:
        click.echo(str(problem))
    if report.refused is not None:
        raise click.ClickException(f"{path} was not repaired: {report.refused}.")
    for change in report.changes:
        click.echo(f"{path}: {change}")
    if not report.changes:
        click.echo(f"{path}: nothing to repair (the consolidated metadata is current and no writer left a mark)")


def _roll_back(path: str, store: Any) -> None:
    from ._rollback import roll_back_edit

    try:
        done = roll_back_edit(store)
    except ValueError as err:
        raise click.ClickException(f"{path} was not rolled back: {err}") from err
    finally:
        store.close()
    for key in done.deleted:
        click.echo(f"{path}: deleted /{key} (added by the unfinished edit)")
    for key in done.restored:
        click.echo(f"{path}: restored the zarr.json of /{key or ''}")
    click.echo(f"{path}: rolled back to the file its consolidated metadata describes")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``hdmf-zarr`` console script."""
    cli.main(args=argv, prog_name="hdmf-zarr")


if __name__ == "__main__":  # pragma: no cover
    main()
