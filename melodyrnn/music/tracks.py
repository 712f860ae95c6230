"""Which track of a multi-track file carries the melody.

Note counts say little: the tenor of a chorale, the piano chords of a song and an agogo
loop all have more notes than the tune. Each track is described by what a listener would
use -- register, monophony, stepwise motion, pitch variety, how much of the piece it
spans, whether it repeats one bar pattern, its General MIDI program family and its name
-- and the highest-scoring track is the melody. Drum tracks are never chosen.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from melodyrnn.music.notes import Track, Tune
from melodyrnn.music.structure import tune_bars

__all__ = ["TrackInfo", "describe_tracks", "melody_track_index", "pick_melody_track"]

# role words in track names; a negative word wins over a positive one ("Bg Vocals")
_MELODY_WORDS = re.compile(r"melod|lead|vocal|voice|vox|sopran|solo|tune|chant|canto|sing|theme|"
                           r"main|cantus|treble|air\b|right hand|\bhi\)|\(hi|upper|primo|violin ?1|"
                           r"vln\.? ?1|1st")
_OTHER_WORDS = re.compile(r"bass|basse|drum|perc|chord|accomp|\bpad\b|rhythm|arp|\balto\b|tenor|"
                          r"bariton|harmon|backing|\bbg\b|\bback|\bcomp\b|strum|kick|snare|hat|"
                          r"cymbal|\btom|\bfx\b|noise|click|metronome|left hand|\blo\)|\(lo|lower|"
                          r"second|2nd|violin ?2|viola|cello|contrabass|timpani")
_PERCUSSIVE = range(112, 128)  # GM percussive instruments and sound effects
_BASS = range(32, 40)
_PADS = range(88, 104)  # synth pads and synth effects


@dataclass(frozen=True)
class TrackInfo:
    """One track of a file as ``melodyrnn tracks`` lists it.

    Attributes
    ----------
    index : int
        Position among the file's tracks (``--track`` takes it).
    name, program, channel : str, int, int or None
        Track name, General MIDI program, MIDI channel numbered 1-16 as MIDI software
        shows it (10: General MIDI drums; None when unknown).
    is_drum : bool
        Percussion track (never the melody).
    notes : int
        Number of notes.
    polyphony : float
        Fraction of notes that start while another note of the track sounds (0: monophonic).
    max_voices : int
        Most notes sounding at once.
    pitch_low, pitch_high : int
        Pitch range (MIDI numbers; 0 for an empty track).
    mean_pitch : float
    score : float
        Melody score (higher: more melody-like); ``-inf`` for tracks never chosen.
    melody : bool
        The track :func:`pick_melody_track` takes.
    """

    index: int
    name: str
    program: int
    channel: int | None
    is_drum: bool
    notes: int
    polyphony: float
    max_voices: int
    pitch_low: int
    pitch_high: int
    mean_pitch: float
    score: float
    melody: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score"] = None if not np.isfinite(self.score) else round(self.score, 3)
        d["polyphony"] = round(self.polyphony, 3)
        d["mean_pitch"] = round(self.mean_pitch, 2)
        return d


def _voices(t: Track, slack_beats: float = 0.125) -> np.ndarray:
    """Notes sounding at each note's onset (itself included); overlaps shorter than
    ``slack_beats`` (legato) do not count."""
    starts = np.sort(t.start_beats)
    ends = np.sort(t.end_beats - slack_beats)
    return (np.searchsorted(starts, t.start_beats, side="right")
            - np.searchsorted(ends, t.start_beats, side="right"))


def _skyline(t: Track) -> np.ndarray:
    """Pitches of the top note of each onset, in time order."""
    order = np.lexsort((-t.pitch.astype(np.int64), np.round(t.start_beats, 3)))
    onsets = np.round(t.start_beats[order], 3)
    first = np.concatenate(([True], onsets[1:] != onsets[:-1]))
    return t.pitch[order][first].astype(np.int64)


def _bar_repeats(t: Track, bar_beats: float) -> float:
    """Fraction of the track's bars with notes that repeat the bar before exactly."""
    bars = tune_bars(t.pitch, t.start_beats, t.end_beats, bar_beats)
    filled = [i for i, b in enumerate(bars) if b]
    if len(filled) < 2:
        return 0.0
    return sum(i > 0 and bars[i] == bars[i - 1] for i in filled) / len(filled)


def _features(t: Track, bar_beats: float, total_bars: int) -> dict:
    sky = _skyline(t)
    voices = _voices(t)
    moves = np.abs(np.diff(sky))
    moves = moves[moves > 0]
    bars = np.unique(np.floor(t.start_beats / bar_beats + 1e-9)).shape[0]
    return {
        "dyads": float((voices == 2).mean()),  # doublings, two-part writing
        "chords": float((voices > 2).mean()),
        "steps": float((moves <= 2).mean()) if moves.size else 0.0,
        "leaps": float((moves > 7).mean()) if moves.size else 0.0,
        "variety": len(np.unique(t.pitch)),
        "presence": min(bars / max(total_bars, 1), 1.0),
        "repeats": _bar_repeats(t, bar_beats),
        "sky_mean": float(sky.mean()),
    }


def _name_score(name: str) -> float:
    low = name.lower()
    if _OTHER_WORDS.search(low):
        return -2.0
    if "melod" in low:  # the file says so
        return 4.0
    return 2.5 if _MELODY_WORDS.search(low) else 0.0


def _program_score(t: Track, sky_mean: float) -> float:
    if t.program in _PERCUSSIVE:
        return -4.0
    if t.program in _BASS or sky_mean < 48:
        return -3.0
    return -0.5 if t.program in _PADS else 0.0


def _scores(tune: Tune) -> tuple[list[float], list[dict]]:
    bar_beats = tune.time_signatures[0].bar_beats if tune.time_signatures else 4.0
    total_bars = int(np.ceil(tune.end_beats / bar_beats)) if tune.end_beats else 1
    feats = [(_features(t, bar_beats, total_bars) if len(t) and not t.is_drum else None)
             for t in tune.tracks]
    means = [f["sky_mean"] for f in feats if f is not None]
    scores = []
    for t, f in zip(tune.tracks, feats):
        if f is None:
            scores.append(-np.inf)
            continue
        # register: 1 for the highest candidate, 0 for the lowest
        rank = (np.searchsorted(np.sort(means), f["sky_mean"]) / max(len(means) - 1, 1)
                if len(means) > 1 else 1.0)
        scores.append(_melody_score(f, rank) + _name_score(t.name) + _program_score(t, f["sky_mean"])
                      - (2.0 if len(t) < 16 else 0.0))  # a handful of notes is an ornament
    return scores, feats


def _melody_score(f: dict, rank: float) -> float:
    """The music's part of the score; weights set on generated arrangements and chorales
    (``benchmarks/tracks.py``). Register counts only for lines that move by step (an
    arpeggio above the tune is not the tune)."""
    return (4.0 * rank * min(f["steps"] / 0.5, 1.0) + 4.0 * f["steps"] - 1.0 * f["leaps"]
            - 2.0 * f["dyads"] - 6.0 * f["chords"]
            + 0.25 * min(f["variety"], 6) - 3.0 * (f["variety"] <= 3)
            + 3.0 * f["presence"] - 1.5 * f["repeats"])


def melody_track_index(tune: Tune) -> int:
    """Index of the track most likely to carry the melody.

    Raises
    ------
    ValueError
        When no track outside the drum tracks has notes.
    """
    scores, _ = _scores(tune)
    if not np.isfinite(max(scores, default=-np.inf)):
        raise ValueError("the seed has no notes outside drum tracks")
    return int(np.argmax(scores))


def describe_tracks(tune: Tune, channels: list[int | None] | None = None) -> list[TrackInfo]:
    """Every track of ``tune`` with its statistics and melody score; the chosen one is
    marked ``melody``. ``channels`` (one per track) comes from
    :func:`melodyrnn.music.midi_io.track_channels` when known."""
    scores, _ = _scores(tune)
    chosen = int(np.argmax(scores)) if np.isfinite(max(scores, default=-np.inf)) else -1
    out = []
    for i, (t, s) in enumerate(zip(tune.tracks, scores)):
        voices = _voices(t) if len(t) else np.zeros(0, np.int64)
        channel = None if not channels or channels[i] is None else channels[i] + 1
        out.append(TrackInfo(
            i, t.name, int(t.program), channel, bool(t.is_drum), len(t),
            float((voices > 1).mean()) if len(t) else 0.0, int(voices.max()) if len(t) else 0,
            int(t.pitch.min()) if len(t) else 0, int(t.pitch.max()) if len(t) else 0,
            float(t.pitch.mean()) if len(t) else 0.0, float(s), i == chosen))
    return out


def pick_melody_track(tune: Tune, track: str | None = None) -> tuple[int, Track]:
    """(index, track) of the seed's melody: ``track`` by index or name, else chosen from
    the music (:func:`melody_track_index`)."""
    if track is None:
        i = melody_track_index(tune)
        return i, tune.tracks[i]
    if track.isdigit():
        i = int(track)
        if i >= len(tune.tracks):
            raise ValueError(f"--track {track}: the seed has {len(tune.tracks)} tracks")
        if not len(tune.tracks[i]):
            raise ValueError(f"--track {track}: that track has no notes")
        return i, tune.tracks[i]
    named = [i for i, t in enumerate(tune.tracks) if t.name == track]
    if not named:
        raise ValueError(f"--track {track!r}: no such track; tracks are "
                         + ", ".join(repr(t.name) for t in tune.tracks))
    return named[0], tune.tracks[named[0]]
