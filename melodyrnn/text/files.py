"""Text files read whole (UTF-8, size-capped, no FIFO hangs), split into documents and
encoded in memory."""

from __future__ import annotations

import re
from pathlib import Path

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.inputs import read_guarded

__all__ = ["MAX_TEXT_BYTES", "text_files", "read_text", "split_documents", "guess_separator",
           "encode_text_files"]

MAX_TEXT_BYTES = 256 * 2 ** 20  # one text file


def text_files(inputs) -> list[Path]:
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(item.rglob("*.txt"))
        elif item.is_file():
            files.append(item)
        elif item.exists():
            raise ValueError(f"{item}: not a regular file")
        else:
            raise ValueError(f"no such file or folder: {item}")
    return files


def read_text(path: Path) -> str:
    try:
        return read_guarded(path, MAX_TEXT_BYTES).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def split_documents(text: str, separator: str) -> list[str]:
    """Documents of ``text``: parts between lines equal to ``separator`` (fortune files use
    ``%``), or blank-line paragraphs for ``""``, or blocks of N lines for ``"lines:N"``.
    Empty documents are dropped; each keeps its text exactly, line ends included."""
    lines = text.splitlines(keepends=True)
    if separator.startswith("lines:"):
        n = int(separator.split(":", 1)[1])
        docs = ["".join(lines[i:i + n]) for i in range(0, len(lines), n)]
    else:
        docs, current = [], []
        for line in lines:
            if (line.strip() == separator) if separator else not line.strip():
                docs.append("".join(current))
                current = []
            else:
                current.append(line)
        docs.append("".join(current))
    return [d for d in docs if d.strip()]


def guess_separator(text: str) -> str:
    """``%`` when some line is exactly ``%`` (fortune files), else blank-line paragraphs."""
    return "%" if re.search(r"(?m)^%\s*$", text) else ""


def encode_text_files(paths: list[str], enc
                      ) -> tuple[SplitArrays, list[str], dict[str, str]]:
    """Documents of text files encoded with ``enc``: (sequences, files, failures by path)."""
    files = [str(p) for p in text_files(paths)]
    seqs, chars, source, failures = [], [], [], {}
    for i, path in enumerate(files):
        try:
            docs = split_documents(read_text(Path(path)), enc.config.separator)
        except (ValueError, OSError) as e:
            failures[path] = str(e)
            continue
        for d in docs:
            seqs.append(enc.encode_text(d))
            chars.append(len(d))
            source.append(i)
    return SplitArrays.from_sequences(seqs, chars, source), files, failures
