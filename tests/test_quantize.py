import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.music.quantize import ExtractConfig, extract_melodies, extract_melody_batch, quantize_beats

from tunes import track, tune

LOOSE = ExtractConfig(min_notes=1, min_unique_pitches=1)


def notes_of(m):
    return list(zip(m.pitch.tolist(), m.start_steps.tolist(), m.end_steps.tolist()))


def test_quantize_rounds_to_nearest_step_halves_up():
    beats = np.array([0.0, 0.12, 0.125, 0.13, 1 / 3, 0.999])
    assert quantize_beats(beats, 4).tolist() == [0, 0, 1, 1, 1, 4]
    assert quantize_beats(beats, 12).tolist() == [0, 1, 2, 2, 4, 12]


def test_hand_worked_extraction_with_every_rule():
    # 4/4 at 4 steps per beat: bar = 16 steps
    t = tune(track([
        (60, 0.5, 1.0),       # steps 2..4
        (64, 1.0, 3.0),       # chord with 67 at step 4: 67 kept (skyline)
        (67, 1.0, 1.75),      # steps 4..7
        (65, 1.5, 2.0),       # a later onset (step 6) cuts 67 at 6; ends at 8
        (62, 2.5, 2.51),      # collapses to zero length -> one step: 10..11
        (69, 8.0, 9.0),       # rest 11..32 = 21 steps > 16: new melody, starts at bar line 32
        (71, 9.0, 9.5),
    ]))
    melodies, counts = extract_melodies(t, LOOSE)
    assert [notes_of(m) for m in melodies] == [
        [(60, 2, 4), (67, 4, 6), (65, 6, 8), (62, 10, 11)],
        [(69, 0, 4), (71, 4, 6)],
    ]
    assert [m.offset_steps for m in melodies] == [0, 32]
    assert [m.steps_per_bar for m in melodies] == [16, 16]
    assert counts["notes_simultaneous_dropped"] == 1
    assert counts["notes_truncated"] == 1
    assert counts["notes_lengthened"] == 1
    assert counts["melodies_split_at_rest"] == 1


def test_rest_of_exactly_the_gap_does_not_split():
    t = tune(track([(60, 0, 1), (62, 5, 6)]))  # rest of 4 beats = 1 bar
    melodies, counts = extract_melodies(t, LOOSE)
    assert len(melodies) == 1 and counts["melodies_split_at_rest"] == 0
    melodies, _ = extract_melodies(t, ExtractConfig(min_notes=1, min_unique_pitches=1,
                                                    gap_bars=0.5))
    assert len(melodies) == 2


def test_drops_are_counted_by_reason():
    t = tune(track([(60 + (i % 3), i, i + 1) for i in range(10)]),            # 3 pitches
             track([(70 + i, i, i + 1) for i in range(4)], name="short"),     # 4 notes
             track([(72 + i, i, i + 1) for i in range(12)], name="good"),
             track([(36, i, i + 0.5) for i in range(20)], is_drum=True))
    melodies, counts = extract_melodies(t, ExtractConfig(min_notes=5, min_unique_pitches=5))
    assert [len(m) for m in melodies] == [12]
    assert counts["melodies_too_few_pitches"] == 1
    assert counts["melodies_too_short"] == 1
    assert counts["drum_tracks_skipped"] == 1
    assert counts["melodies"] == 1


def test_melody_starts_on_the_bar_line_of_the_real_time_signature():
    # 4/4 for two bars (8 beats), then 3/4 from beat 8; a melody in the 3/4 part
    t = tune(track([(60, 0, 1), (62, 1, 2)] + [(64 + i % 5, 14 + i, 15 + i) for i in range(6)]),
             ts=((0.0, 4, 4), (8.0, 3, 4)))
    melodies, _ = extract_melodies(t, LOOSE)
    assert len(melodies) == 2
    second = melodies[1]
    # beat 14 = step 56; 3/4 bars of 12 steps start at step 32 -> bar line at 56? 32+24 = 56
    assert second.steps_per_bar == 12 and second.offset_steps == 56
    assert second.start_steps[0] == 0
    t2 = tune(track([(64 + i % 5, 15 + i, 16 + i) for i in range(6)]), ts=((0.0, 4, 4), (8.0, 3, 4)))
    (m,) = extract_melodies(t2, LOOSE)[0]
    assert m.offset_steps == 56 and m.start_steps[0] == 4  # beat 15 is one beat into the bar


def test_compound_meter_bar_length():
    t = tune(track([(60 + i, i * 0.5, i * 0.5 + 0.5) for i in range(8)]), ts=((0.0, 6, 8),))
    (m,), _ = extract_melodies(t, LOOSE)
    assert m.steps_per_bar == 12


def test_triplets_need_twelve_steps_per_quarter():
    t = tune(track([(60 + i, i / 3, (i + 1) / 3) for i in range(6)]))
    (m12,), _ = extract_melodies(t, ExtractConfig(steps_per_quarter=12, min_notes=1,
                                                   min_unique_pitches=1))
    assert m12.start_steps.tolist() == [0, 4, 8, 12, 16, 20]
    (m4,), _ = extract_melodies(t, LOOSE)
    assert m4.start_steps.tolist() == [0, 1, 3, 4, 5, 7]  # 1/3 -> 1.33 -> 1, 2/3 -> 2.67 -> 3


note_lists = st.lists(
    st.tuples(st.integers(0, 127), st.integers(0, 200), st.integers(0, 40)),
    min_size=0, max_size=60)


@settings(max_examples=150, deadline=None)
@given(st.lists(note_lists, min_size=1, max_size=4))
def test_melodies_are_monophonic_and_counts_add_up(tracks):
    tunes = [tune(track([(p, s / 4, (s + d) / 4) for p, s, d in notes])) for notes in tracks]
    batch, stats = extract_melody_batch(tunes, LOOSE)
    for m in batch.melodies():
        assert np.all(m.end_steps > m.start_steps)
        assert np.all(m.start_steps[1:] >= m.end_steps[:-1])
        assert np.all(np.diff(m.start_steps) > 0)
        assert m.start_steps[0] >= 0 and m.start_steps[0] < m.steps_per_bar
    for i, notes in enumerate(tracks):
        onsets = {s for _, s, _ in notes}
        kept = int((batch.melody_tune[batch.note_melody] == i).sum())
        assert kept == len(onsets)
        assert stats["notes_simultaneous_dropped"][i] == len(notes) - len(onsets)
    # a batch gives exactly what the tunes give one by one
    one_by_one = [notes_of(m) for t in tunes for m in extract_melodies(t, LOOSE)[0]]
    assert one_by_one == [notes_of(m) for m in batch.melodies()]


def test_config_validation():
    with pytest.raises(ValueError):
        ExtractConfig(steps_per_quarter=0)
    with pytest.raises(ValueError):
        ExtractConfig(gap_bars=0)
