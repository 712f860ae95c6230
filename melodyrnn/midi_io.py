"""The one module that touches MIDI files.

It parses Standard MIDI Files with symusic (a C++ parser, about 100x faster than
pretty_midi or mido) and hands out :class:`~melodyrnn.notes.Tune` objects; it writes
tunes back, and converts to and from ``pretty_midi.PrettyMIDI`` for users of that
library (``pip install melodyrnn[pretty_midi]``).

Unusable input raises :class:`ValueError` with a one-line reason; problems that can be
worked around raise a :class:`UserWarning` and go on.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes
from .notes import KeySignature, TempoChange, TimeSignature, Track, Tune, beats_to_seconds

__all__ = ["read_midi", "read_midi_bytes", "write_midi", "midi_bytes",
           "to_pretty_midi", "from_pretty_midi", "unwrap_riff"]

_MAJOR_TONIC_BY_SHARPS = {s: (7 * s) % 12 for s in range(-7, 8)}


def unwrap_riff(data: bytes) -> bytes:
    """Return the SMF payload of a RIFF/RMID file, or ``data`` unchanged.

    Raises
    ------
    ValueError
        For a RIFF file without a ``data`` chunk.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"RMID":
        return data
    pos = 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag == b"data":
            return data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise ValueError("RIFF/RMID file without a 'data' chunk")


def _check_header(data: bytes) -> None:
    if len(data) == 0:
        raise ValueError("empty file")
    if data[:4] != b"MThd":
        raise ValueError("not a MIDI file (no MThd header)")
    if len(data) < 14:
        raise ValueError("truncated MIDI header")
    division = struct.unpack(">H", data[12:14])[0]
    if division == 0:
        raise ValueError("ticks-per-quarter is 0")
    if division & 0x8000:
        raise ValueError("SMPTE time division is not supported")


def _parse_score(data: bytes):
    from symusic.core import ScoreTick  # the only MIDI library import in the package

    try:
        return ScoreTick.from_midi(data)
    except Exception as first:  # symusic raises RuntimeError/ValueError with its own text
        try:
            score = ScoreTick.from_midi(data, sanitize_data=True)
        except Exception:
            reason = str(first).split("\n")[0].strip() or type(first).__name__
            raise ValueError(f"corrupt MIDI: {reason}") from None
        warnings.warn("MIDI payload bytes out of range were clamped to 0-127", stacklevel=3)
        return score


def _tempo_map(score, tpq: int) -> tuple[np.ndarray, np.ndarray]:
    """Tempo change beats and seconds per beat, first at beat 0."""
    tempos = score.tempos
    if len(tempos) == 1 and tempos[0].time == 0 and tempos[0].mspq > 0:  # the common case, fast
        return np.zeros(1), np.array([tempos[0].mspq / 1e6])
    arr = tempos.numpy()
    beats = arr["time"].astype(np.float64) / tpq
    spb = arr["mspq"].astype(np.float64) / 1e6
    ok = spb > 0
    beats, spb = beats[ok], spb[ok]
    if beats.shape[0] == 0 or beats[0] > 0:
        beats = np.concatenate(([0.0], beats))
        spb = np.concatenate(([0.5], spb))
    if beats.shape[0] > 1:  # several tempos at one tick: the last one wins
        keep = np.append(beats[1:] != beats[:-1], True)
        beats, spb = beats[keep], spb[keep]
    return beats, spb


def _time_signatures(score, tpq: int) -> list[TimeSignature]:
    out = []
    for ts in score.time_signatures:
        if ts.numerator <= 0 or ts.denominator <= 0:
            warnings.warn(f"ignored time signature {ts.numerator}/{ts.denominator}", stacklevel=4)
            continue
        beat = ts.time / tpq
        if out and out[-1].beat == beat:
            out.pop()
        out.append(TimeSignature(beat, int(ts.numerator), int(ts.denominator)))
    if not out or out[0].beat > 0:
        out.insert(0, TimeSignature(0.0, 4, 4))
    return out


def _key_signatures(score, tpq: int) -> list[KeySignature]:
    out = []
    for ks in score.key_signatures:
        if ks.key not in _MAJOR_TONIC_BY_SHARPS:
            continue
        minor = bool(ks.tonality)
        tonic = (_MAJOR_TONIC_BY_SHARPS[ks.key] + (9 if minor else 0)) % 12
        out.append(KeySignature(ks.time / tpq, tonic, minor))
    return out


# symusic serialises a note list as a uint32 count then packed (time, duration: int32,
# pitch, velocity: int8, 2 pad bytes) records; reading that buffer is ~10x faster than
# .numpy(). _note_arrays checks the layout against .numpy() once per process and
# falls back for good if a symusic release changes it.
_NOTE_RECORD = np.dtype([("time", "<i4"), ("duration", "<i4"), ("pitch", "i1"),
                         ("velocity", "i1"), ("pad", "V2")])
_fast_notes = {"checked": False, "ok": False}


def _note_arrays_slow(notes) -> tuple[np.ndarray, ...]:
    arr = notes.numpy()
    return arr["time"], arr["duration"], arr["pitch"], arr["velocity"]


def _note_arrays_fast(notes) -> tuple[np.ndarray, ...] | None:
    n = len(notes)
    state = notes.__getstate__()
    if not isinstance(state, bytes) or len(state) != 4 + _NOTE_RECORD.itemsize * n:
        return None
    rec = np.frombuffer(state, _NOTE_RECORD, offset=4)
    return rec["time"], rec["duration"], rec["pitch"], rec["velocity"]


def _note_arrays(notes) -> tuple[np.ndarray, ...]:
    """(time, duration, pitch, velocity) arrays in ticks of a symusic note list."""
    if _fast_notes["ok"]:
        fast = _note_arrays_fast(notes)
        if fast is not None:
            return fast
    elif not _fast_notes["checked"] and len(notes):
        _fast_notes["checked"] = True
        fast, slow = _note_arrays_fast(notes), _note_arrays_slow(notes)
        _fast_notes["ok"] = fast is not None and all(
            np.array_equal(a, b) for a, b in zip(fast, slow))
        return slow
    return _note_arrays_slow(notes)


def _track(sym_track, tpq: int, tempo_beats: np.ndarray, spb: np.ndarray) -> Track:
    time, duration, pitch, velocity = _note_arrays(sym_track.notes)
    start_beats = time / tpq
    end_beats = (time.astype(np.int64) + duration) / tpq  # int64: no overflow near 2**31
    pitch = pitch.astype(np.int16)
    velocity = velocity.astype(np.int16)
    if (np.diff(time) < 0).any():
        order = np.argsort(time, kind="stable")
        start_beats, end_beats = start_beats[order], end_beats[order]
        pitch, velocity = pitch[order], velocity[order]
    return Track(
        name=sym_track.name, program=int(sym_track.program), is_drum=bool(sym_track.is_drum),
        pitch=pitch, velocity=velocity, start_beats=start_beats, end_beats=end_beats,
        start_seconds=beats_to_seconds(start_beats, tempo_beats, spb),
        end_seconds=beats_to_seconds(end_beats, tempo_beats, spb),
    )


def read_midi_bytes(data: bytes) -> Tune:
    """Parse the bytes of a Standard MIDI File (type 0 or 1, RIFF/RMID wrapped or not).

    Raises
    ------
    ValueError
        When the bytes are not a usable MIDI file.
    """
    data = unwrap_riff(data)
    _check_header(data)
    score = _parse_score(data)
    tpq = int(score.tpq)
    tempo_beats, spb = _tempo_map(score, tpq)
    tracks = [_track(t, tpq, tempo_beats, spb) for t in score.tracks]
    return Tune(
        tracks=[t for t in tracks if len(t)],
        tempos=[TempoChange(float(b), 60.0 / float(s)) for b, s in zip(tempo_beats, spb)],
        time_signatures=_time_signatures(score, tpq),
        key_signatures=_key_signatures(score, tpq),
        ticks_per_quarter=tpq,
    )


def read_midi(path: str | os.PathLike) -> Tune:
    """Read a ``.mid``/``.midi``/``.rmi`` file into a :class:`Tune`.

    Raises
    ------
    ValueError
        When the file is not a usable MIDI file.
    OSError
        When it cannot be read.
    """
    return read_midi_bytes(Path(path).read_bytes())


def _to_score(tune: Tune):
    from symusic import KeySignature as SKey
    from symusic import Note, Score, Tempo
    from symusic import TimeSignature as STime
    from symusic import Track as STrack

    tpq = tune.ticks_per_quarter
    score = Score(tpq)
    for t in tune.tempos:
        score.tempos.append(Tempo(int(round(t.beat * tpq)), qpm=float(t.qpm)))
    for ts in tune.time_signatures:
        score.time_signatures.append(STime(int(round(ts.beat * tpq)), ts.numerator, ts.denominator))
    for ks in tune.key_signatures:
        major_tonic = (ks.tonic - (9 if ks.minor else 0)) % 12
        sharps = next(s for s in range(-6, 7) if _MAJOR_TONIC_BY_SHARPS[s] == major_tonic)
        score.key_signatures.append(SKey(int(round(ks.beat * tpq)), sharps, int(ks.minor)))
    for tr in tune.tracks:
        st = STrack(name=tr.name, program=int(tr.program), is_drum=bool(tr.is_drum))
        start = np.rint(tr.start_beats * tpq).astype(np.int32)
        dur = np.maximum(np.rint(tr.end_beats * tpq).astype(np.int32) - start, 1)
        st.notes = Note.from_numpy(start, dur.astype(np.int32), tr.pitch.astype(np.int8),
                                   np.clip(tr.velocity, 1, 127).astype(np.int8))
        score.tracks.append(st)
    return score


def midi_bytes(tune: Tune) -> bytes:
    """Serialise a tune to Standard MIDI File bytes (type 1, the tune's resolution)."""
    return bytes(_to_score(tune).dumps_midi())


def write_midi(tune: Tune, path: str | os.PathLike) -> None:
    """Write a tune as a Standard MIDI File; tempo, time signature, program, velocity kept.

    The file appears atomically: a crash leaves no partial file under ``path``.
    """
    atomic_write_bytes(path, midi_bytes(tune))


def to_pretty_midi(tune: Tune):
    """Convert a tune to ``pretty_midi.PrettyMIDI`` (needs the ``pretty_midi`` extra)."""
    try:
        import io

        import pretty_midi
    except ImportError:
        raise ImportError("to_pretty_midi needs pretty_midi: pip install 'melodyrnn[pretty_midi]'") from None
    return pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(tune)))


def from_pretty_midi(pm) -> Tune:
    """Convert a ``pretty_midi.PrettyMIDI`` object to a :class:`Tune`."""
    import io

    buf = io.BytesIO()
    pm.write(buf)
    return read_midi_bytes(buf.getvalue())
