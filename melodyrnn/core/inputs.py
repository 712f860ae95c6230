"""One guarded way to read an input file: regular files only, never blocking, a size cap.

A FIFO, a device such as ``/dev/zero`` or a directory given where a file belongs would
otherwise hang a command or read until memory runs out. The file is opened without
blocking and the opened file itself is checked (what is checked is what is read).
"""

from __future__ import annotations

import os
import stat

__all__ = ["MAX_INPUT_BYTES", "InputError", "read_guarded"]

MAX_INPUT_BYTES = 32 * 2 ** 20  # one MIDI seed, tune or pipeline file; ingest's --max-file-mb


class InputError(ValueError):
    """An input that is not a readable regular file of a sane size; ``reason`` is the
    message without the path."""

    def __init__(self, path, reason: str) -> None:
        super().__init__(f"{os.fsdecode(path)}: {reason}")
        self.reason = reason


def read_guarded(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    Raises
    ------
    InputError
        (a ValueError) When ``path`` is not a regular file (a FIFO, device, directory) or is larger
        than ``max_bytes``; the message names the file and says which.
    OSError
        When it cannot be opened or read (missing, no permission).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise InputError(path, "not a regular file (a directory)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(path, "not a regular file")
        if st.st_size > max_bytes:
            raise InputError(path, f"file too large ({st.st_size} bytes > {max_bytes})")
        chunks, size, want = [], 0, st.st_size + 1
        while True:  # a short read of a regular file means its end (even if it grew)
            chunk = os.read(fd, want)
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise InputError(path, f"file too large (over {max_bytes} bytes)")
            if len(chunk) < want:
                break
            want = 1 << 16
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
