"""Atomic file output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file under its final name, and a crash leaves at most
a ``.tmp-*`` file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "staging_dir"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        clear = _write_error(e, path)
        if clear is not None:
            raise clear from None
        raise


_PARTIAL = re.compile(r"(\d+) requested and (\d+) written")  # numpy's tofile cut short (items)
_TORCH_SHORT = re.compile(r"file write failed|unexpected pos \d+ vs \d+")  # torch.save's


def _write_error(e: BaseException, path: Path) -> OSError | None:
    """A one-line OSError for a write that ran out of room (``[Errno 28] no space left on
    device writing PATH``), from the device's own error or from numpy's and torch's
    reports of a short write; None for any other error."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return OSError(e.errno, f"{os.strerror(e.errno).lower()} writing {path}")
    short = _PARTIAL.search(str(e)) if isinstance(e, OSError) and e.errno is None else None
    if short is None and not (isinstance(e, RuntimeError) and _TORCH_SHORT.search(str(e))):
        return None
    wanted = int(short.group(1)) - int(short.group(2)) if short else 1
    with contextlib.suppress(OSError):
        if shutil.disk_usage(path.parent).free < max(wanted, 1 << 20):
            return OSError(errno.ENOSPC, f"no space left on device writing {path}")
    return OSError(errno.EIO, f"could not write {path}: " + (f"the write stopped after {short.group(2)} of "
                   f"{short.group(1)} items" if short else "the write failed"))


def staging_dir(prefix: str, parent: str | os.PathLike) -> Path:
    """A new folder in ``parent`` with a unique name starting ``prefix``, with the
    permissions a plain ``mkdir`` gives (``tempfile.mkdtemp`` makes 0700: a dataset
    renamed into place from it would be unreadable to the user's group)."""
    folder = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(folder, 0o777 & ~_umask())
    return Path(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
