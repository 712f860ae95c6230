"""The one module that touches MIDI files.

It parses Standard MIDI Files with symusic (a C++ parser, about 100x faster than
pretty_midi or mido) and hands out :class:`~melodyrnn.music.notes.Tune` objects; it writes
tunes back, and converts to and from ``pretty_midi.PrettyMIDI`` for users of that
library (``pip install melodyrnn[pretty_midi]``).

Unusable input raises :class:`ValueError` with a one-line reason; problems that can be
worked around raise a :class:`UserWarning` and go on.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
import warnings

import numpy as np

from melodyrnn.core.atomic import atomic_write_bytes
from melodyrnn.core.inputs import read_guarded
from melodyrnn.music.midi_scan import channel_notes
from melodyrnn.music.notes import (KeySignature, TempoChange, TimeSignature, Tune, TuneBatch,
                    beats_to_seconds)

__all__ = ["load_parser", "read_midi", "read_midi_bytes", "read_midi_batch", "ReadLimits",
           "TooLarge", "BatchRead", "write_midi", "midi_bytes",
           "to_pretty_midi", "from_pretty_midi", "unwrap_riff", "track_channels"]

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


def load_parser():
    """Import the MIDI parser (about 70 ms), e.g. before forking worker processes."""
    from symusic.core import ScoreTick  # the only MIDI library import in the package

    return ScoreTick


def _parse_score(data: bytes, notes: list[str], ScoreTick):  # noqa: N803 - a class

    try:
        return ScoreTick.from_midi(data)
    except Exception as first:  # symusic raises RuntimeError/ValueError with its own text
        try:
            score = ScoreTick.from_midi(data, sanitize_data=True)
        except Exception:
            reason = str(first).split("\n")[0].strip() or type(first).__name__
            raise ValueError(f"corrupt MIDI: {reason}") from None
        notes.append("MIDI payload bytes out of range were clamped to 0-127")
        return score


def _tempo_map(score, tpq: int) -> tuple[np.ndarray, np.ndarray]:
    """Tempo change beats and seconds per beat, first at beat 0."""
    tempos = score.tempos
    if len(tempos) == 1:
        t0 = tempos[0]
        if t0.time == 0 and t0.mspq > 0:  # the common case, fast
            return np.zeros(1), np.array([t0.mspq / 1e6])
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


def _time_signatures(score, tpq: int, notes: list[str]) -> list[TimeSignature]:
    sigs = score.time_signatures
    if len(sigs) == 1:  # the common case, fast
        ts = sigs[0]
        if ts.time == 0 and ts.numerator > 0 and ts.denominator > 0:
            return [TimeSignature(0.0, ts.numerator, ts.denominator)]
    out = []
    for ts in sigs:
        if ts.numerator <= 0 or ts.denominator <= 0:
            notes.append(f"ignored time signature {ts.numerator}/{ts.denominator}")
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
    keys = score.key_signatures
    for ks in (keys if len(keys) else ()):
        if ks.key not in _MAJOR_TONIC_BY_SHARPS:
            continue
        minor = bool(ks.tonality)
        tonic = (_MAJOR_TONIC_BY_SHARPS[ks.key] + (9 if minor else 0)) % 12
        out.append(KeySignature(ks.time / tpq, tonic, minor))
    return out


# symusic serialises a note list as a uint32 count then packed records (time, duration:
# int32; pitch, velocity: int8; 2 pad bytes). Joining those buffers for a whole batch and
# reading them with one np.frombuffer is far faster than .numpy() per track. The layout
# is checked against .numpy() once per process; any mismatch falls back to .numpy().
_NOTE_RECORD = np.dtype([("time", "<i4"), ("duration", "<i4"), ("pitch", "i1"),
                         ("velocity", "i1"), ("pad", "V2")])
_packed_notes = {"checked": False, "ok": False}


def _packed_layout_ok(notes) -> bool:
    if not _packed_notes["checked"]:
        _packed_notes["checked"] = True
        state = notes.__getstate__()
        ok = isinstance(state, bytes) and len(state) == 4 + _NOTE_RECORD.itemsize * len(notes)
        if ok:
            rec, ref = np.frombuffer(state, _NOTE_RECORD, offset=4), notes.numpy()
            ok = all(np.array_equal(rec[k], ref[k]) for k in ("time", "duration", "pitch", "velocity"))
        _packed_notes["ok"] = ok
    return _packed_notes["ok"]


def _note_records(note_lists: list) -> np.ndarray:
    """One record array (time, duration, pitch, velocity) of many symusic note lists."""
    if not note_lists:
        return np.zeros(0, _NOTE_RECORD)
    if _packed_layout_ok(note_lists[0]):
        states = [n.__getstate__() for n in note_lists]
        if all(len(s) == 4 + _NOTE_RECORD.itemsize * len(n) for s, n in zip(states, note_lists)):
            return np.frombuffer(b"".join(memoryview(s)[4:] for s in states), _NOTE_RECORD)
    out = np.zeros(sum(len(n) for n in note_lists), _NOTE_RECORD)
    pos = 0
    for n in note_lists:
        arr = n.numpy()
        for k in ("time", "duration", "pitch", "velocity"):
            out[k][pos:pos + len(n)] = arr[k]
        pos += len(n)
    return out


@dataclass(frozen=True)
class ReadLimits:
    """Caps beyond which a readable file is refused with :class:`TooLarge`."""

    max_notes: int | None = None
    max_beats: float | None = None


class TooLarge(ValueError):
    """A readable MIDI file beyond the caller's :class:`ReadLimits`."""


@dataclass
class BatchRead:
    """Result of :func:`read_midi_batch`: the tunes, and per input a failure and notes.

    A failed input is an empty tune in ``batch`` with its exception in ``failures``;
    ``notes`` lists what was worked around in each input (e.g. clamped bytes).
    """

    batch: TuneBatch
    failures: list[ValueError | None]
    notes: list[list[str]]


def _read_one(data: bytes, limits: ReadLimits, notes: list[str], parser):
    data = unwrap_riff(data)
    _check_header(data)
    score = _parse_score(data, notes, parser)
    tpq = int(score.tpq)
    n = score.note_num()
    if limits.max_notes is not None and n > limits.max_notes:
        raise TooLarge(f"too many notes ({n} > {limits.max_notes})")
    if limits.max_beats is not None and score.end() / tpq > limits.max_beats:
        raise TooLarge(f"absurd length ({score.end() / tpq:.0f} > {limits.max_beats:.0f} beats)")
    return score, tpq


def read_midi_batch(datas: list[bytes], limits: ReadLimits = ReadLimits(),
                    key_signatures: bool = True) -> BatchRead:
    """Parse many Standard MIDI Files at once into a :class:`TuneBatch`.

    Per-file failures (unusable bytes, or :class:`TooLarge`) do not stop the batch.
    ``key_signatures=False`` skips reading them (the tunes then list none), for speed.
    """
    parser = load_parser()
    failures: list[ValueError | None] = []
    notes: list[list[str]] = []
    tempos, sigs, keys, tpqs, tempo_maps = [], [], [], [], []
    note_lists, t_tune, t_prog, t_drum, t_name = [], [], [], [], []
    for i, data in enumerate(datas):
        notes.append([])
        try:
            score, tpq = _read_one(data, limits, notes[-1], parser)
        except ValueError as e:
            failures.append(e)
            tempos.append([TempoChange(0.0, 120.0)])
            sigs.append([TimeSignature(0.0, 4, 4)])
            keys.append([])
            tpqs.append(480)
            tempo_maps.append((np.zeros(1), np.array([0.5])))
            continue
        failures.append(None)
        tempo_maps.append(_tempo_map(score, tpq))
        tempos.append([TempoChange(b, 60.0 / s) for b, s in zip(*(a.tolist() for a in tempo_maps[-1]))])
        sigs.append(_time_signatures(score, tpq, notes[-1]))
        keys.append(_key_signatures(score, tpq) if key_signatures else [])
        tpqs.append(tpq)
        for track in score.tracks:
            nl = track.notes
            if len(nl):
                note_lists.append(nl)
                t_tune.append(i)
                t_prog.append(track.program)
                t_drum.append(track.is_drum)
                t_name.append(track.name)
    rec = _note_records(note_lists)
    counts = np.fromiter((len(n) for n in note_lists), np.int64, len(note_lists))
    note_track = np.repeat(np.arange(len(note_lists)), counts)
    track_tune = np.asarray(t_tune, np.int64)
    time = rec["time"].astype(np.int64)
    end = time + rec["duration"]
    pitch, velocity = rec["pitch"].astype(np.int16), rec["velocity"].astype(np.int16)
    if ((np.diff(time) < 0) & (np.diff(note_track) == 0)).any():  # sort each track by onset
        order = np.lexsort((time, note_track))
        time, end, pitch, velocity = time[order], end[order], pitch[order], velocity[order]
    tpq_note = np.asarray(tpqs, np.float64)[track_tune][note_track]
    start_beats, end_beats = time / tpq_note, end / tpq_note
    spb = np.array([m[1][0] for m in tempo_maps])[track_tune][note_track]
    start_seconds, end_seconds = start_beats * spb, end_beats * spb
    bounds = np.concatenate(([0], np.cumsum(counts)))
    for k, ti in enumerate(t_tune):  # tunes with tempo changes: piecewise map
        if tempo_maps[ti][0].shape[0] > 1:
            sl = slice(bounds[k], bounds[k + 1])
            start_seconds[sl] = beats_to_seconds(start_beats[sl], *tempo_maps[ti])
            end_seconds[sl] = beats_to_seconds(end_beats[sl], *tempo_maps[ti])
    batch = TuneBatch(pitch, velocity, start_beats, end_beats, start_seconds, end_seconds,
                      note_track, track_tune, np.asarray(t_prog, np.int64),
                      np.asarray(t_drum, bool), t_name, tempos, sigs, keys, tpqs)
    return BatchRead(batch, failures, notes)


def read_midi_bytes(data: bytes) -> Tune:
    """Parse the bytes of a Standard MIDI File (type 0 or 1, RIFF/RMID wrapped or not).

    Raises
    ------
    ValueError
        When the bytes are not a usable MIDI file.
    """
    result = read_midi_batch([data])
    if result.failures[0] is not None:
        raise result.failures[0]
    for note in result.notes[0]:
        warnings.warn(note, stacklevel=2)
    return result.batch.tune(0)


def track_channels(tune: Tune, data: bytes) -> list[int | None]:
    """The MIDI channel (0-15) of each of ``tune``'s tracks, read from the file's bytes;
    None where the scan cannot tell tracks apart."""
    scanned = channel_notes(unwrap_riff(data))
    used, out = set(), []
    for t in tune.tracks:
        hits = [k for k, (name, ch, prog, n) in enumerate(scanned)
                if k not in used and name == t.name and prog == t.program and n == len(t)
                and (ch == 9) == t.is_drum]
        used.update(hits[:1])
        out.append(scanned[hits[0]][1] if len(hits) == 1 else None)
    return out


def read_midi(path: str | os.PathLike) -> Tune:
    """Read a ``.mid``/``.midi``/``.rmi`` file into a :class:`Tune`.

    Raises
    ------
    ValueError
        When the file is not a usable MIDI file.
    OSError
        When it cannot be read.
    """
    return read_midi_bytes(read_guarded(path))


def _to_score(tune: Tune):
    from symusic import KeySignature as SKey
    from symusic import Note, Score, Tempo, TextMeta
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
    for m in tune.markers:
        score.markers.append(TextMeta(int(round(m.beat * tpq)), m.text))
    for tr in tune.tracks:
        if len(tr) and (tr.pitch.min() < 0 or tr.pitch.max() > 127):
            raise ValueError(f"track {tr.name!r}: MIDI pitches are 0-127, not {int(tr.pitch.min())}"
                             f"..{int(tr.pitch.max())}")
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
