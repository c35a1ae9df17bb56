"""Atomic file and directory writes.

Outputs are written under a temporary name next to their destination and renamed onto it only
once complete, so a reader (or a crashed run) never sees a half-written file: either the old
content or the new one is at the destination, nothing in between.

- :func:`atomic_path` — one file: yields a temporary path to write; ``os.replace`` on success.
- :func:`atomic_directory` — a whole directory (e.g. a sequence of frame files): yields a
  temporary directory ``OUT.tmp-xxxxxxxx``; on success it replaces ``OUT`` (an existing ``OUT``
  is moved aside first and deleted only after the new one is in place).
- :func:`atomic_write_bytes` / :func:`atomic_write_text` — convenience wrappers.
- :func:`check_output_directory` — the same refusal as ``atomic_directory``'s, asked before a
  long run rather than after it.

Temporary names keep the destination's suffix (``.trajectory.tmp-1a2b3c4d.npz``) because some
writers pick the format from the extension (USD) or append one if missing (``np.savez``).
Durability across power loss (``fsync``) is not attempted; atomic visibility is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

__all__ = [
    "atomic_directory",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_directory",
]

_MAX_NAME_ATTEMPTS = 100

logger = logging.getLogger("emu4d.mpm")
_STAGING_NAME = re.compile(r"\.tmp-[0-9a-f]{8}$")  # the temporary directories made below


def _unused_sibling(path: Path, tag: str, suffix: str = "", hidden: bool = False) -> Path:
    """A path next to ``path`` that does not exist yet: ``[.]<name>.<tag>-<8 hex><suffix>``."""
    stem = path.stem if suffix else path.name
    prefix = "." if hidden else ""
    for _ in range(_MAX_NAME_ATTEMPTS):
        candidate = path.with_name(f"{prefix}{stem}.{tag}-{secrets.token_hex(4)}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise FileExistsError(f"could not find an unused temporary name next to {path}")


def _remove(path: Path) -> None:
    """Remove a file or directory tree if it exists; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the destination's directory; rename it onto ``path`` on success.

    The temporary file is not created: the caller's writer creates it (so it gets the usual
    permissions). On an exception inside the block the temporary file is removed and the error
    re-raised; ``path`` keeps its previous content (or stays absent). Parent directories are
    created.

    Example::

        with atomic_path("out/trajectory.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, x=x)
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write file {path}: a directory with that name exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _unused_sibling(path, "tmp", suffix=path.suffix, hidden=True)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory ``<path>.tmp-xxxxxxxx``; it replaces ``path`` on success.

    Everything written into the yielded directory appears at ``path`` at once. An existing
    ``path`` directory is replaced only after the block succeeded (it is renamed aside, the new
    directory renamed in, then the old one deleted; if the second rename fails the old directory
    is put back). On an exception the temporary directory is deleted and ``path`` is untouched.
    Stale files of a previous, longer output cannot survive because the directory is replaced
    as a whole. So that a directory of other files is never lost (``-o ~/Desktop``), an
    existing, non-empty ``path`` is replaced only if it holds at least one entry of the same
    name as the new output (an earlier output of the same kind); otherwise FileExistsError is
    raised, the new output is discarded and ``path`` is untouched.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write directory {path}: a file with that name exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_MAX_NAME_ATTEMPTS):
        tmp = _unused_sibling(path, "tmp")
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"could not create a temporary directory next to {path}")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    try:
        check_output_directory(path, os.listdir(tmp))
    except BaseException:
        _remove(tmp)
        raise
    _replace_directory(tmp, path)
    # the writers inside log their temporary paths at debug level; this is where it landed
    # (an output staged inside another one's temporary directory lands with that one)
    staged = any(_STAGING_NAME.search(part) for part in path.parts[:-1])
    logger.log(logging.DEBUG if staged else logging.INFO, "wrote %s", path)


def check_output_directory(path: str | Path, names: Collection[str]) -> None:
    """Raise if an output directory holding ``names`` may not replace ``path``.

    The rule of :func:`atomic_directory`: ``path`` may be absent, an empty directory, or a
    directory holding at least one entry named like one in ``names`` (an earlier output of the
    same kind). A file at ``path`` raises NotADirectoryError, a directory of other files
    FileExistsError. Commands call this with the names they are sure to write before a long
    run, so that a wrong ``-o`` fails at once instead of after the work.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write directory {path}: a file with that name exists")
    if not path.is_dir():
        return
    existing = set(os.listdir(path))
    if existing and not existing & set(names):
        shown = ", ".join(sorted(existing)[:5]) + (", ..." if len(existing) > 5 else "")
        raise FileExistsError(
            f"{path} exists and holds none of the files this output writes ({shown}); "
            "it was left untouched and nothing was written. Choose a new or empty directory."
        )


def _replace_directory(src: Path, dst: Path) -> None:
    """Move directory ``src`` onto ``dst``; an existing ``dst`` goes only once ``src`` is in."""
    if not os.path.lexists(dst):
        try:
            os.replace(src, dst)
        except BaseException:
            _remove(src)
            raise
        return
    old = _unused_sibling(dst, "old")
    try:
        os.replace(dst, old)
    except BaseException:
        _remove(src)
        raise
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        _remove(src)
        raise
    _remove(old)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path`` as a :class:`~pathlib.Path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path`` as a :class:`~pathlib.Path`."""
    return atomic_write_bytes(path, text.encode(encoding))
