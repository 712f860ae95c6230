"""Build Standard MIDI File bytes by hand, independent of any MIDI library.

Tests use this to make exactly the files they need (odd resolutions, running status,
type 0, drums, broken headers) under tmp_path, with no data files committed.
"""

from __future__ import annotations

import struct

Note = tuple  # (pitch, start_tick, end_tick, velocity)


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + vlq(len(data)) + data


def tempo(qpm: float) -> bytes:
    return meta(0x51, struct.pack(">I", int(round(60_000_000 / qpm)))[1:])


def time_signature(num: int, den: int) -> bytes:
    return meta(0x58, bytes([num, den.bit_length() - 1, 24, 8]))


def key_signature(sharps: int, minor: bool) -> bytes:
    return meta(0x59, struct.pack(">bB", sharps, int(minor)))


def track_name(name: str) -> bytes:
    return meta(0x03, name.encode())


def note_events(notes, channel: int = 0) -> list[tuple[int, int, bytes]]:
    """(tick, order, message) for note-ons and note-offs; offs sort before ons."""
    ev = []
    for pitch, start, end, vel in notes:
        ev.append((start, 1, bytes([0x90 | channel, pitch, vel])))
        ev.append((end, 0, bytes([0x80 | channel, pitch, 0])))
    return ev


def track_chunk(events: list[tuple[int, int, bytes]], running_status: bool = False) -> bytes:
    """An MTrk chunk of (absolute tick, order, message) events plus end-of-track."""
    body, now, last_status = b"", 0, None
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        data = msg
        if running_status and msg[0] < 0xF0 and msg[0] == last_status:
            data = msg[1:]
        last_status = msg[0] if msg[0] < 0xF0 else None
        body += vlq(tick - now) + data
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(tracks: list[bytes], tpq: int = 480, fmt: int | None = None) -> bytes:
    """A whole file from MTrk chunks."""
    fmt = (0 if len(tracks) == 1 else 1) if fmt is None else fmt
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), tpq) + b"".join(tracks)


def melody_file(notes, tpq: int = 480, qpm: float = 120.0, ts=(4, 4), program: int = 0,
                channel: int = 0, name: str = "melody", running_status: bool = False,
                key=None, extra_tracks: list[bytes] = ()) -> bytes:
    """A type-1 file: a conductor track (tempo, time signature) and one note track."""
    conductor = [(0, 0, tempo(qpm)), (0, 0, time_signature(*ts))]
    if key is not None:
        conductor.append((0, 0, key_signature(*key)))
    events = [(0, 0, track_name(name)), (0, 0, bytes([0xC0 | channel, program]))]
    events += note_events(notes, channel)
    return smf([track_chunk(conductor), track_chunk(events, running_status), *extra_tracks], tpq)


def scale_notes(pitches, step_ticks: int = 120, gap: int = 0, start: int = 0, vel: int = 90):
    """Consecutive notes of one step each (16ths at tpq 480)."""
    return [(p, start + i * step_ticks, start + (i + 1) * step_ticks - gap, vel)
            for i, p in enumerate(pitches)]
