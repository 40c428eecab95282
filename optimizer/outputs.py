"""Writing outputs safely, and keeping stdout for documents only.

- `check_output_path`: refuse, before any work is done, an output path that is the input file, a
  directory, or in a folder that does not exist or cannot be written (exit 2).
- `atomic_write_text`: write to a temporary file beside the target, then rename it over the
  target, so a failed or interrupted run never leaves a truncated file (an existing plan stays as
  it was). Temporary files still in flight are removed by `remove_partial_outputs` (the CLI's
  Ctrl-C handler calls it before exiting).
- `native_stdout_to_stderr`: while a solver runs, file descriptor 1 points at stderr (or, when no
  solver log was asked for, at the null device), so banners and logs that native libraries print
  (HiGHS prints "Running HiGHS ..." on fd 1) never mix with a JSON or YAML document on stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from optimizer.errors import InputError

_IN_FLIGHT: set[Path] = set()
_LOCK = threading.Lock()


def check_output_path(path: Path, inputs: Iterable[Path] = (), *, what: str = "output") -> None:
    """Raise InputError (exit 2) if `path` cannot be written safely as a file.

    Refused: an existing directory; a path that is one of `inputs` (would overwrite the input); a
    parent folder that is missing, not a folder or not writable.
    """
    if path.exists() and path.is_dir():
        raise InputError(f"{what} {path} is a directory; give a file name such as {path / 'plan.yaml'}")
    for src in inputs:
        try:
            same = path.exists() and src.exists() and os.path.samefile(path, src)
        except OSError:
            same = False
        if same or path.resolve() == src.resolve():
            raise InputError(f"{what} {path} is the input file {src}; choose another file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"{what} {path}: folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise InputError(f"{what} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: folder {parent} is not writable")


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` through a temporary file in the same folder and an atomic rename."""
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    tmp = Path(tmp_name)
    with _LOCK:
        _IN_FLIGHT.add(tmp)
    try:
        with os.fdopen(fd, "w", encoding=encoding) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        with _LOCK:
            _IN_FLIGHT.discard(tmp)


def remove_partial_outputs() -> None:
    """Delete temporary files of writes that have not completed (called on interrupt)."""
    with _LOCK:
        pending = list(_IN_FLIGHT)
        _IN_FLIGHT.clear()
    for tmp in pending:
        with contextlib.suppress(OSError):
            tmp.unlink()


_REDIRECT_LOCK = threading.Lock()


@contextlib.contextmanager
def native_stdout_to_stderr(discard: bool = False) -> Iterator[None]:
    """Point file descriptor 1 at stderr for the duration (native libraries' prints go to stderr),
    or with `discard` at the null device (no solver log asked for: HiGHS's banner is noise).

    Python's `sys.stdout` is flushed first and keeps working afterwards; nothing is redirected if
    descriptors 1 or 2 are not open.
    """
    with _REDIRECT_LOCK:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:
            yield
            return
        try:
            if discard:
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(null, 1)
                finally:
                    os.close(null)
            else:
                os.dup2(2, 1)
        except OSError:
            os.close(saved)
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
