"""MIDI files found in folders and encoded in memory (no dataset folder), with ingest's
guarded reader: size caps, no hangs on FIFOs, a reason for each file that fails."""

from __future__ import annotations

import os


from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.encoding import Encoding
from melodyrnn.music.ingest.worker import Limits, read_input
from melodyrnn.music.midi_io import read_midi_batch

__all__ = ["MIDI_SUFFIXES", "discover", "encode_midi_files"]

MIDI_SUFFIXES = (".mid", ".midi", ".rmi", ".kar", ".smf")


def discover(inputs: tuple[str, ...] | list[str]) -> list[str]:
    """MIDI files under ``inputs``, sorted; files named explicitly are kept whatever their suffix.

    Raises
    ------
    ValueError
        For an input that does not exist at all.
    """
    found: set[str] = set()
    for item in inputs:
        if os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                found.update(os.path.join(root, f) for f in files
                             if f.lower().endswith(MIDI_SUFFIXES))
        elif os.path.lexists(item):
            found.add(item)
        else:
            raise ValueError(f"no such file or folder: {item}")
    return sorted(found)


def encode_midi_files(paths: list[str], encoding: Encoding, chunk: int = 512
                      ) -> tuple[SplitArrays, list[str], dict[str, str]]:
    """Encode MIDI files in memory: (sequences, the files used, failures by path)."""
    files = discover(paths)
    parts, failures = [], {}
    for a in range(0, len(files), chunk):
        part = files[a:a + chunk]
        datas = []
        for path in part:
            digest, data = read_input(path, Limits())  # ingest's reader: caps, no FIFO hangs
            if digest is None:
                failures[path] = data
            datas.append(data if digest is not None else b"")
        read = read_midi_batch(datas)
        for path, failure in zip(part, read.failures):
            if failure is not None and path not in failures:
                failures[path] = str(failure)
        b = encoding.encode_tunes(read.batch)
        parts.append(SplitArrays(b.tokens, b.offsets, b.seq_units, b.seq_bar_steps, b.seq_tune))
    arrays = SplitArrays.concat(parts, list(range(0, len(files), chunk)))  # sources: file indices
    return arrays, files, failures
