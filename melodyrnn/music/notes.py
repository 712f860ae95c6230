"""Plain value classes for music read from MIDI files.

Nothing here touches a file or a MIDI library: ``midi_io`` fills these classes and
everything downstream reads them. Times carry their unit in the name: ``*_beats`` are
quarter-note beats counted from the start of the file, ``*_seconds`` are seconds from
the tempo map, ``*_steps`` are grid steps of a quantised score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Note", "Track", "Tune", "TuneBatch", "TempoChange", "TimeSignature", "KeySignature",
           "Marker", "beats_to_seconds"]


@dataclass(frozen=True)
class Note:
    """One sounding note.

    Parameters
    ----------
    pitch : int
        MIDI pitch, 0-127.
    velocity : int
        MIDI velocity, 1-127.
    start_beats, end_beats : float
        Onset and offset in quarter-note beats.
    start_seconds, end_seconds : float
        Onset and offset in seconds.
    program : int
        General MIDI program, 0-127.
    is_drum : bool
        True for notes of a percussion track (channel 10).
    track : str
        Name of the track the note came from ("" when unnamed).
    """

    pitch: int
    velocity: int
    start_beats: float
    end_beats: float
    start_seconds: float
    end_seconds: float
    program: int = 0
    is_drum: bool = False
    track: str = ""


@dataclass(frozen=True)
class TempoChange:
    """A tempo that holds from ``beat`` (quarter notes) on, in quarter notes per minute."""

    beat: float
    qpm: float


@dataclass(frozen=True)
class TimeSignature:
    """A time signature that holds from ``beat`` (quarter notes) on."""

    beat: float
    numerator: int
    denominator: int

    @property
    def bar_beats(self) -> float:
        """Length of one bar in quarter-note beats (6/8 -> 3.0)."""
        return self.numerator * 4.0 / self.denominator


@dataclass(frozen=True)
class KeySignature:
    """A key signature from ``beat`` on: ``tonic`` pitch class 0-11 (C=0) and ``minor``."""

    beat: float
    tonic: int
    minor: bool


@dataclass(frozen=True)
class Marker:
    """A marker (MIDI meta event 6) at ``beat``: a named place such as "continuation"."""

    beat: float
    text: str


def _empty(dtype) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass
class Track:
    """The notes of one MIDI track as parallel arrays (one entry per note, sorted by onset).

    Parameters
    ----------
    name : str
        Track name ("" when unnamed).
    program : int
        General MIDI program.
    is_drum : bool
        Percussion track.
    pitch, velocity : ndarray of int16
        MIDI pitch and velocity per note.
    start_beats, end_beats : ndarray of float64
        Onsets and offsets in quarter-note beats.
    start_seconds, end_seconds : ndarray of float64
        Onsets and offsets in seconds.
    """

    name: str = ""
    program: int = 0
    is_drum: bool = False
    pitch: np.ndarray = field(default_factory=lambda: _empty(np.int16))
    velocity: np.ndarray = field(default_factory=lambda: _empty(np.int16))
    start_beats: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    end_beats: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    start_seconds: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    end_seconds: np.ndarray = field(default_factory=lambda: _empty(np.float64))

    def __len__(self) -> int:
        return int(self.pitch.shape[0])

    def notes(self) -> list[Note]:
        """The track's notes as :class:`Note` objects."""
        return [
            Note(int(p), int(v), float(sb), float(eb), float(ss), float(es),
                 self.program, self.is_drum, self.name)
            for p, v, sb, eb, ss, es in zip(self.pitch, self.velocity, self.start_beats,
                                            self.end_beats, self.start_seconds, self.end_seconds)
        ]


@dataclass
class Tune:
    """A whole MIDI file: tracks plus tempo map, time and key signatures.

    Parameters
    ----------
    tracks : list of Track
    tempos : list of TempoChange
        Sorted by beat; the first starts at beat 0 (120 qpm when the file sets none).
    time_signatures : list of TimeSignature
        Sorted by beat; 4/4 at beat 0 when the file sets none.
    key_signatures : list of KeySignature
        Possibly empty.
    ticks_per_quarter : int
        Resolution of the source file (480 for tunes built in code).
    markers : list of Marker
        Named places, written to MIDI files (not read back from them).
    """

    tracks: list[Track] = field(default_factory=list)
    tempos: list[TempoChange] = field(default_factory=lambda: [TempoChange(0.0, 120.0)])
    time_signatures: list[TimeSignature] = field(
        default_factory=lambda: [TimeSignature(0.0, 4, 4)])
    key_signatures: list[KeySignature] = field(default_factory=list)
    ticks_per_quarter: int = 480
    markers: list[Marker] = field(default_factory=list)

    @property
    def n_notes(self) -> int:
        return sum(len(t) for t in self.tracks)

    @property
    def end_beats(self) -> float:
        """Offset of the last note, in quarter-note beats (0.0 for an empty tune)."""
        return max((float(t.end_beats.max()) for t in self.tracks if len(t)), default=0.0)

    def notes(self) -> list[Note]:
        """All notes of all tracks, sorted by onset then pitch."""
        out = [n for t in self.tracks for n in t.notes()]
        out.sort(key=lambda n: (n.start_beats, n.pitch))
        return out

    def beats_to_seconds(self, beats: np.ndarray) -> np.ndarray:
        """Map quarter-note beats to seconds through the tempo map."""
        starts = np.array([t.beat for t in self.tempos], dtype=np.float64)
        spb = np.array([60.0 / t.qpm for t in self.tempos], dtype=np.float64)
        return beats_to_seconds(np.asarray(beats, dtype=np.float64), starts, spb)


@dataclass
class TuneBatch:
    """Many tunes as flat arrays, for vectorised processing of whole collections.

    Notes of all tracks of all tunes lie back to back, sorted by track and then onset;
    ``note_track`` says which track each note belongs to and ``track_tune`` which tune
    each track belongs to. Per-note arrays carry the units of :class:`Track`.
    """

    pitch: np.ndarray
    velocity: np.ndarray
    start_beats: np.ndarray
    end_beats: np.ndarray
    start_seconds: np.ndarray
    end_seconds: np.ndarray
    note_track: np.ndarray
    track_tune: np.ndarray
    track_program: np.ndarray
    track_is_drum: np.ndarray
    track_name: list[str]
    tempos: list[list[TempoChange]]
    time_signatures: list[list[TimeSignature]]
    key_signatures: list[list[KeySignature]]
    ticks_per_quarter: list[int]

    @property
    def n_tunes(self) -> int:
        return len(self.tempos)

    @property
    def n_tracks(self) -> int:
        return int(self.track_tune.shape[0])

    def track_bounds(self) -> np.ndarray:
        """Note offsets per track: notes of track ``k`` are ``[b[k], b[k + 1])``."""
        return np.searchsorted(self.note_track, np.arange(self.n_tracks + 1))

    def notes_per_tune(self) -> np.ndarray:
        return np.bincount(self.track_tune[self.note_track], minlength=self.n_tunes)

    def tune(self, i: int) -> Tune:
        """Tune ``i`` as a :class:`Tune` whose arrays are views into the batch."""
        bounds = self.track_bounds()
        tracks = []
        for k in np.flatnonzero(self.track_tune == i).tolist():
            sl = slice(bounds[k], bounds[k + 1])
            tracks.append(Track(self.track_name[k], int(self.track_program[k]),
                                bool(self.track_is_drum[k]), self.pitch[sl], self.velocity[sl],
                                self.start_beats[sl], self.end_beats[sl],
                                self.start_seconds[sl], self.end_seconds[sl]))
        return Tune(tracks, self.tempos[i], self.time_signatures[i], self.key_signatures[i],
                    self.ticks_per_quarter[i])

    @classmethod
    def of(cls, tunes: "list[Tune] | TuneBatch") -> "TuneBatch":
        """A batch of the given tunes (returned as is when already a batch)."""
        if isinstance(tunes, TuneBatch):
            return tunes
        tracks = [(ti, t) for ti, tune in enumerate(tunes) for t in tune.tracks]
        cat = (lambda attr, dtype: np.concatenate(
            [getattr(t, attr) for _, t in tracks] or [np.zeros(0)]).astype(dtype))
        return cls(
            pitch=cat("pitch", np.int16), velocity=cat("velocity", np.int16),
            start_beats=cat("start_beats", np.float64), end_beats=cat("end_beats", np.float64),
            start_seconds=cat("start_seconds", np.float64),
            end_seconds=cat("end_seconds", np.float64),
            note_track=np.repeat(np.arange(len(tracks)), [len(t) for _, t in tracks]).astype(np.int64),
            track_tune=np.array([ti for ti, _ in tracks], np.int64),
            track_program=np.array([t.program for _, t in tracks], np.int64),
            track_is_drum=np.array([t.is_drum for _, t in tracks], bool),
            track_name=[t.name for _, t in tracks],
            tempos=[t.tempos for t in tunes], time_signatures=[t.time_signatures for t in tunes],
            key_signatures=[t.key_signatures for t in tunes],
            ticks_per_quarter=[t.ticks_per_quarter for t in tunes],
        )


def beats_to_seconds(beats: np.ndarray, tempo_beats: np.ndarray,
                     seconds_per_beat: np.ndarray) -> np.ndarray:
    """Piecewise-linear map from beats to seconds.

    Parameters
    ----------
    beats : ndarray of float64
        Times in quarter-note beats.
    tempo_beats : ndarray of float64
        Beat at which each tempo starts, ascending, first 0.
    seconds_per_beat : ndarray of float64
        Seconds per quarter note of each tempo.
    """
    if tempo_beats.shape[0] == 1:
        return beats * seconds_per_beat[0]
    seconds_at = np.concatenate(([0.0], np.cumsum(np.diff(tempo_beats) * seconds_per_beat[:-1])))
    idx = np.searchsorted(tempo_beats, beats, side="right") - 1
    idx = np.clip(idx, 0, None)
    return seconds_at[idx] + (beats - tempo_beats[idx]) * seconds_per_beat[idx]
