"""The files a run or `homecheck report` writes (--json, --html, --markdown): part of the CLI,
the only other module that writes files.

- Checked before anything is measured: the folder exists and takes a new file (one is created and
  removed, so a read-only folder is found now, not after a minute of measuring), the path is no
  folder, at most one output goes to stdout, no two outputs are one file, and no output is an
  input (the saved report read, the --profile file) or the log file. "One file" is decided on the
  real path (relative paths, `..` and symlinks resolved) and, for files that exist, by
  os.path.samefile (hard links).
- Written atomically: the text goes to a new file in the same folder, which then replaces the
  target (os.replace, atomic on POSIX and Windows). A full disk, a size limit or a killed process
  leaves the previous report as it was, never a truncated one. A symlink is written through (its
  target is replaced, the link stays); a device or pipe (/dev/null, /dev/stdout) is written to as
  it is, since replacing it would be wrong.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from homecheck.errors import UsageError
from reports import OutputFormat

STDOUT = "-"


@dataclass(frozen=True)
class Output:
    option: str  # "--json", as the user typed it: error messages name it
    fmt: OutputFormat
    path: str  # STDOUT for standard output


def check(outputs: Iterable[Output], others: Iterable[tuple[str, str]] = ()) -> None:
    """Refuse, as one usage error, outputs that cannot or must not be written. `others` are the
    (option, path) of the run's inputs and of other files it writes (the log)."""
    outputs = list(outputs)
    to_stdout = [o.option for o in outputs if o.path == STDOUT]
    if len(to_stdout) > 1:
        raise UsageError(f"only one output can go to stdout ('-'): {' and '.join(to_stdout)}")
    files = [o for o in outputs if o.path != STDOUT]
    for output in files:
        check_writable(output.option, output.path)
    taken = [(o.option, o.path) for o in files]
    for index, (option, path) in enumerate(taken):
        for other_option, other_path in [*taken[:index], *others]:
            if other_path and other_path != STDOUT and same_file(path, other_path):
                what = "input" if other_option in ("--profile", "report") else "output"
                raise UsageError(
                    f"{option} {path}: is also the {other_option} {what} file; "
                    "give each file its own name"
                )


def same_file(a: str, b: str) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_writable(option: str, path: str) -> None:
    """One file the run will write (also the --log-file): a usage error if it cannot be."""
    if not path.strip():
        raise UsageError(f"{option}: give a file name")
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {path}: folder {Path(path).parent} does not exist")
    if target.exists() and not target.is_file():  # a device or a pipe: written as it is
        if not os.access(target, os.W_OK):
            raise UsageError(f"{option} {path}: cannot write (permission denied)")
        return
    try:
        probe = _new_file(target)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None
    os.close(probe[0])
    os.unlink(probe[1])


def write(path: str, text: str) -> None:
    """Write `text` as UTF-8 to `path`, atomically for a regular file. Raises OSError, and then
    the file at `path` is what it was before."""
    data = text.encode("utf-8")
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        with open(target, "wb") as device:
            device.write(data)
        return
    fd, temporary = _new_file(target)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if target.exists():  # keep the permissions of the report it replaces
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _new_file(target: Path) -> tuple[int, Path]:
    """A new, empty file beside `target`, named so that no one else has it (O_EXCL); created as
    an ordinary file would be (mode 0666 less the umask, not mkstemp's 0600)."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)  # O_BINARY: Windows
    return os.open(temporary, flags, 0o666), temporary
