"""Write an output directory atomically, and never at the cost of the user's files.

The result is built in a temporary sibling ``.NAME.tmp-PID.HOST.RANDOM`` and renamed into place
when complete, with a no-overwrite rename: if another run created ``NAME`` meanwhile, this run
fails (OUT007) instead of silently replacing it; with ``force`` the one there is moved aside
first (``.NAME.old-...``) and removed, and concurrent forced runs each end with one whole result.
The renames run with SIGINT/SIGTERM held back, so an interrupt never leaves the old result moved
aside and the new one not yet in place.  Temporary siblings of runs that died (SIGKILL, power
loss) are removed by the next run into the same folder: the PID and host in the name show the
writer is gone; a live run's siblings are never touched.

Codes: OUT002 exists without force; OUT003 exists and cannot be replaced (a file, a symbolic
link, a mount point); OUT004 the location cannot be created or written; OUT005 the directory
would be or hold the user's inputs, the current folder or the home folder; OUT007 another run
wrote the directory meanwhile.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from snncc.errors import OutputError

_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_STEM_CHARS = 120  # of the output name kept in a temporary sibling's name, so that it fits NAME_MAX
_FILE_NAME_ROOM = 64  # bytes for the names of the files written inside the output (float_graph.npz, ...)
_SIBLING = re.compile(r"\.(?P<stem>.*)\.(?:tmp|old)-(?P<pid>\d+)\.(?P<host>[0-9a-f]{8})\.[a-z0-9_]+")


def check_output_dir(path: Path, force: bool, inputs: Iterable[str | Path] = ()) -> None:
    """Fail before any work if the result could not be written, or writing it would cost the user
    files: ``inputs`` (model, data, ...) must not be inside the output directory."""
    try:
        _check(path, force, inputs)
    except OSError as exc:  # e.g. a name too long to even look up, a loop of links
        raise OutputError(f"cannot use the output path: {exc.strerror}", code="OUT004", source=str(path)) from exc


def _check(path: Path, force: bool, inputs: Iterable[str | Path]) -> None:
    final = output_path(path)
    _refuse_precious(path, final, inputs)
    try:
        mode: int | None = os.lstat(final).st_mode  # one look: a concurrent forced run may move it meanwhile
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if mode is not None and stat.S_ISLNK(mode):
        raise OutputError(
            "the output path is a symbolic link",
            code="OUT003",
            source=str(path),
            hint="pass the directory it points to, or another --out",
        )
    if mode is not None:
        if not force:
            raise OutputError(
                "output directory already exists",
                code="OUT002",
                source=str(path),
                hint="choose another --out, or pass --force to replace it",
            )
        if not stat.S_ISDIR(mode):
            raise OutputError("output path exists and is not a directory", code="OUT003", source=str(path))
        if os.path.ismount(final):
            raise OutputError(
                "the output directory is a mount point and cannot be replaced", code="OUT003", source=str(path)
            )
    _probe(path, final)
    if final.parent.is_dir():
        remove_stale_siblings(final)


def output_path(path: str | Path) -> Path:
    """``path`` made absolute with its folders resolved as the system will (``..`` after a link
    included), but not its last part: a symbolic link named as the output stays a link."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.absolute().parent.resolve() / path.name


@contextlib.contextmanager
def atomic_output_dir(path: Path, force: bool = False, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary directory; on success it becomes ``path``, on any failure it is removed."""
    check_output_dir(path, force, inputs)
    final = output_path(path)
    created: list[Path] = []
    tmp: Path | None = None
    try:
        with _signals_held():  # a signal between a mkdir and noting it down would leave that folder behind
            _make_parents(final.parent, path, created)
            tmp = _sibling(final, "tmp")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the result should look like any new directory
        with _write_errors(path):
            yield tmp
        _commit(tmp, final, force, path)
    except BaseException:
        with _signals_held():  # a second signal must not cut the clean-up short
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            for folder in reversed(created):  # parents this run made, if they are still empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


@contextlib.contextmanager
def atomic_output_file(path: Path, force: bool = False, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield where to write a file (in a temporary sibling folder); on success it becomes ``path``
    (never over a file that appeared meanwhile unless ``force``), on any failure nothing is left."""
    final = output_path(path)
    try:
        _refuse_precious(path, final, inputs, file=True)
        if final.is_dir():
            raise OutputError("the output path is a directory", code="OUT003", source=str(path), hint="name a file")
        if final.exists() and not force:
            raise OutputError(
                "the output file exists", code="OUT002", source=str(path), hint="choose another path or pass --force"
            )
        if not final.parent.is_dir():
            raise OutputError("the output file's folder does not exist", code="OUT004", source=str(path))
        _probe(path, final)
    except OSError as exc:
        raise OutputError(f"cannot use the output path: {exc.strerror}", code="OUT004", source=str(path)) from exc
    remove_stale_siblings(final)
    folder: Path | None = None
    try:
        with _signals_held():
            folder = _sibling(final, "tmp")
        with _write_errors(path):
            yield folder / final.name
        with _signals_held():
            _place_file(folder / final.name, final, force, path)
    finally:
        with _signals_held():
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """A write that fails (a full disk, a quota, an I/O error) is the location's fault, not a bug:
    OUT004 naming the cause; the caller removes what was written."""
    try:
        yield
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        raise OutputError(
            f"cannot write the output: {exc.strerror or exc}" + ("; nothing was written" if full else ""),
            code="OUT004",
            source=str(path),
            hint="free some space or choose another --out" if full else None,
        ) from exc


def _place_file(src: Path, final: Path, force: bool, path: Path) -> None:
    if force:
        os.replace(src, final)
        return
    try:
        os.link(src, final)  # atomic, and fails if the name exists
    except FileExistsError:
        raise OutputError(
            "the output file appeared while snncc was working (another run writing it?)",
            code="OUT007",
            source=str(path),
            hint="choose another path or pass --force",
        ) from None
    except OSError:  # a file system without hard links
        os.replace(src, final)


def remove_stale_siblings(final: Path) -> list[Path]:
    """Remove ``final``'s temporary siblings whose writer (a process on this host) is gone."""
    stem = _stem(final.name)
    removed = []
    with contextlib.suppress(OSError), os.scandir(final.parent) as entries:
        for entry in entries:
            match = _SIBLING.fullmatch(entry.name)
            if not match or match["stem"] != stem or match["host"] != _HOST or _alive(int(match["pid"])):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
    return removed


# --- checks before any work ---------------------------------------------------------------------


def _refuse_precious(path: Path, final: Path, inputs: Iterable[str | Path], file: bool = False) -> None:
    """Replacing the directory must never delete the inputs, the current folder or the home folder."""
    real = final.resolve()
    protected: list[tuple[Path, str]] = [(Path.cwd(), "the current folder")]
    with contextlib.suppress(RuntimeError, KeyError):
        protected.append((Path.home(), "your home folder"))
    protected += [(Path(p), f"the input {p}") for p in inputs if p is not None and Path(p).exists()]
    for kept, what in protected:
        kept = kept.resolve()
        if file and kept == real:
            raise OutputError(
                f"the output file is {what}; writing it would destroy it",
                code="OUT005",
                source=str(path),
                hint="pass a new file name",
            )
        if kept == real or real in kept.parents:
            raise OutputError(
                f"the output directory {'is' if kept == real else 'holds'} {what}; "
                "snncc replaces the whole output directory, so it must be a new folder of its own",
                code="OUT005",
                source=str(path),
                hint="pass a new folder for the results, e.g. --out out/run1",
            )


def _probe(path: Path, final: Path) -> None:
    """Create (and remove) a temporary sibling where the result will go, and check the names fit:
    a read-only or pseudo file system, or an overlong name, fails now, not after the compile."""
    existing = final.parent
    missing = [final.name]
    while not existing.is_dir():
        if existing.exists() or existing == existing.parent:
            raise OutputError(
                "the parent directory cannot be created: a file is in the way",
                code="OUT004",
                source=str(existing),
                hint="choose an --out inside a directory",
            )
        missing.append(existing.name)
        existing = existing.parent
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for name in missing:
        if len(os.fsencode(name)) > name_max:
            raise OutputError(
                f"the name {name[:40]!r}... is {len(os.fsencode(name))} bytes; this file system allows {name_max}",
                code="OUT004",
                source=str(path),
                hint="choose a shorter --out name",
            )
    try:
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        path_max = 4096
    longest = len(os.fsencode(_sibling_name(final))) + len(os.fsencode(str(final.parent))) + 1
    longest += max(_FILE_NAME_ROOM, len(os.fsencode(final.name)))  # a file written inside, or export's file
    if longest >= path_max:
        raise OutputError(
            f"the output path is {len(os.fsencode(str(final)))} bytes; with the files snncc writes in it, it would "
            f"pass this system's limit of {path_max} bytes for a path",
            code="OUT004",
            source=str(path),
            hint="choose a shorter --out",
        )
    try:
        with _signals_held():  # never left behind by a signal between the two
            _sibling(existing / missing[-1], "tmp").rmdir()
    except OSError as exc:
        raise OutputError(
            f"cannot create the output directory there: {exc.strerror}", code="OUT004", source=str(existing)
        ) from exc


def _make_parents(folder: Path, path: Path, created: list[Path]) -> None:
    """Create ``folder`` and its missing parents, each noted in ``created`` as it is made."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    try:
        for folder in reversed(missing):
            folder.mkdir(exist_ok=True)
            created.append(folder)
    except OSError as exc:  # the caller removes those in ``created``
        raise OutputError(
            f"cannot create the parent directory: {exc.strerror}", code="OUT004", source=str(folder)
        ) from exc


# --- the commit -------------------------------------------------------------------------------


def _commit(tmp: Path, final: Path, force: bool, path: Path) -> None:
    """tmp becomes final, never over a directory that appeared meanwhile unless ``force``."""
    moved_aside: list[Path] = []
    with _signals_held():
        try:
            for _ in range(100):  # each turn another forced run won a race; each run makes progress
                try:
                    _rename_noreplace(tmp, final)
                    return
                except FileExistsError:
                    if not force:
                        raise OutputError(
                            "the output directory appeared while snncc was working (another run writing to it?); "
                            "this run's result was not written",
                            code="OUT007",
                            source=str(path),
                            hint="give each run its own --out, or pass --force to replace",
                        ) from None
                    try:
                        mode = os.lstat(final).st_mode  # one look: other forced runs move it meanwhile
                    except FileNotFoundError:
                        continue  # another forced run moved it aside just now: try again
                    if not stat.S_ISDIR(mode):
                        raise OutputError(
                            "output path was replaced by something that is not a directory",
                            code="OUT003",
                            source=str(path),
                        ) from None
                    aside = _sibling(final, "old")
                    moved_aside.append(aside)
                    with contextlib.suppress(FileNotFoundError):  # another forced run moved it first
                        os.rename(final, aside / final.name)
            raise OutputError(
                "the output directory keeps being recreated by other runs", code="OUT007", source=str(path)
            )
        except OSError as exc:
            raise OutputError(
                f"cannot move the result into place: {exc.strerror}", code="OUT004", source=str(path)
            ) from exc
        finally:
            for aside in moved_aside:
                shutil.rmtree(aside, ignore_errors=True)


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _rename_noreplace(src: Path, dst: Path) -> None:
    """rename(2) that fails with FileExistsError if ``dst`` exists (os.rename would replace an
    empty directory): renameat2(RENAME_NOREPLACE) where the C library and file system have it,
    else claim the name with mkdir (atomic, exclusive) and rename over that empty directory."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            if err in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(err, os.strerror(err), str(dst))
            raise OSError(err, os.strerror(err), str(dst))
    os.mkdir(dst)  # FileExistsError if it exists
    try:
        os.rename(src, dst)
    except BaseException:
        os.rmdir(dst)
        raise


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait until the block is done (delivered right after).

    In the main thread their Python handlers are swapped for one that notes the signal: a signal
    mask would not do, as it is per thread and torch's or OpenBLAS's threads would take the signal
    for the main thread's handler to run at once.  Elsewhere the thread's signal mask holds them."""
    held = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    noted: list[int] = []
    try:
        previous = {s: signal.signal(s, lambda signum, _frame: noted.append(signum)) for s in held}
    except ValueError:  # not the main thread
        with _signal_mask(held):
            yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(noted):
            signal.raise_signal(s)  # now to the handler that was there: Ctrl-C's KeyboardInterrupt, snncc's


@contextlib.contextmanager
def _signal_mask(held: list[int]) -> Iterator[None]:
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError):  # no POSIX signal masks (Windows)
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# --- temporary siblings -------------------------------------------------------------------------


def _stem(name: str) -> str:
    return name[:_STEM_CHARS]


def _sibling(final: Path, kind: str) -> Path:
    prefix = f".{_stem(final.name)}.{kind}-{os.getpid()}.{_HOST}."
    return Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))


def _sibling_name(final: Path) -> str:
    """As long as any temporary sibling's name (mkdtemp adds 8 characters)."""
    return f".{_stem(final.name)}.tmp-{os.getpid()}.{_HOST}.{'x' * 8}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process: alive
        return True
    return True
