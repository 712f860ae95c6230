"""A raw scan of Standard MIDI File bytes for what the parser does not report: channels.

symusic splits each file track by channel and program but does not say which channel a
track used; this scan counts note-ons per (file track, channel, program) so that
:func:`melodyrnn.music.midi_io.track_channels` can match them to the parsed tracks. Used by
``midi_io`` only; reads bytes, opens no file.
"""

from __future__ import annotations

import struct

__all__ = ["channel_notes"]


def _vlq(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            break
    return value, i


def _scan_track(data: bytes, counts: dict, name_out: list) -> None:
    i, status, program = 0, 0, [0] * 16
    name = ""
    while i < len(data):
        _, i = _vlq(data, i)
        if i >= len(data):
            break
        if data[i] & 0x80:
            status = data[i]
            i += 1
        if status == 0xFF:
            kind = data[i]
            length, i = _vlq(data, i + 1)
            if kind == 0x03 and not name:
                name = data[i:i + length].decode("latin-1", "replace")
            i += length
            status = 0  # meta and sysex cancel running status
        elif status in (0xF0, 0xF7):
            length, i = _vlq(data, i)
            i += length
            status = 0
        elif status >= 0x80:
            kind, channel = status & 0xF0, status & 0x0F
            width = 1 if kind in (0xC0, 0xD0) else 2
            if kind == 0xC0:
                program[channel] = data[i] & 0x7F
            elif kind == 0x90 and i + 1 < len(data) and data[i + 1]:
                key = (channel, program[channel])
                counts[key] = counts.get(key, 0) + 1
            i += width
        else:
            break  # a data byte with no status: stop here, the parser reports the damage
    name_out.append(name)


def channel_notes(data: bytes) -> list[tuple[str, int, int, int]]:
    """``(track name, channel, program, note-ons)`` for each file track's channels.

    A damaged file yields what could be read before the damage.
    """
    out: list[tuple[str, int, int, int]] = []
    if data[:4] != b"MThd" or len(data) < 14:
        return out
    i = 8 + struct.unpack(">I", data[4:8])[0]
    while i + 8 <= len(data):
        size = struct.unpack(">I", data[i + 4:i + 8])[0]
        chunk = data[i + 8:i + 8 + size]
        if data[i:i + 4] == b"MTrk":
            counts: dict = {}
            names: list = []
            try:
                _scan_track(chunk, counts, names)
            except IndexError:
                names.append("")
            out += [(names[0], ch, prog, n) for (ch, prog), n in sorted(counts.items())]
        i += 8 + size
    return out
