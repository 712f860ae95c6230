"""The outer-voice parallels rule, by hand and in generation (with a model that wants them)."""

import numpy as np
import torch

from melodyrnn.core.vocab import BOS
from melodyrnn.music.counterpoint import NoOuterParallels
from melodyrnn.music.encodings.chorale import HOLD, ON0, REST, STEP, ChoraleEncoding
from melodyrnn.music.voice_leading import voice_leading

ENC = ChoraleEncoding(ChoraleEncoding.config_class(voices=2))  # top, bass; frames: t b STEP
on = lambda p: ON0 + p - ENC.config.min_pitch  # noqa: E731


def banned(primer: list[int], last: int) -> set[int]:
    """The bass pitches the rule rules out after ``primer`` + ``last`` (the top's token)."""
    rule = NoOuterParallels(ENC)
    entries = rule.start([BOS, *primer, last])
    entries, logits = rule.apply(entries, np.array([last]), np.zeros((1, len(ENC.vocab))))
    assert np.isfinite(logits[0, [REST, HOLD, STEP]]).all()
    return {i - ON0 + ENC.config.min_pitch for i in np.flatnonzero(np.isinf(logits[0]))}


def test_parallel_fifths_and_octaves_are_ruled_out_by_hand():
    # C5 over F4 (a fifth); the top moves up to D5: the bass may not go up to G4 (a fifth
    # again) nor to any G above F4 (G5, G6...); G3, below F4, moves the other way: allowed
    assert banned([on(72), on(65), STEP], on(74)) == {67, 79, 91}
    # an octave C5/C4, the top steps down to B4: no B below... moving down, i.e. B3 and lower Bs
    assert banned([on(72), on(60), STEP], on(71)) == {59, 47, 35}
    # a third (E5 over C4) is no perfect interval: nothing is ruled out
    assert banned([on(76), on(60), STEP], on(77)) == set()
    # the top holds: no common move, nothing ruled out; so too after a rest in the bass
    assert banned([on(72), on(65), STEP], HOLD) == set()
    assert banned([on(72), REST, STEP], on(74)) == set()
    # a held bass still sounds: C5/F4, then D5 over held F4, then the top to E5 from a sixth
    assert banned([on(72), on(65), STEP, on(74), HOLD, STEP], on(76)) == set()


def test_the_rule_only_speaks_at_the_bass_slot():
    rule = NoOuterParallels(ENC)
    entries = rule.start([BOS, on(72), on(65), STEP, on(74)])
    entries, logits = rule.apply(entries, np.array([on(74)]), np.zeros((1, len(ENC.vocab))))
    entries, logits = rule.apply(entries, np.array([on(67)]), np.zeros((1, len(ENC.vocab))))  # STEP next
    assert np.isfinite(logits).all()


def test_generation_with_the_rule_has_no_outer_parallels(monkeypatch):
    """A model that always wants the bass a fifth below the top, moving with it, writes
    parallels without the rule and none with it."""
    from melodyrnn.core.continuation import DecodeConfig, continue_ids

    class Parallel(torch.nn.Module):
        """Logits: top climbs a step a frame; bass a fifth below the top; then STEP."""

        embed = torch.nn.Embedding(1, 1)  # continue_ids reads the device from it

        def initial_state(self, n, period=None, device=None):
            return {"t": torch.zeros(n, dtype=torch.long)}

        def forward(self, ids, st):
            t = st["t"]
            slot, frame = t % 3, t // 3  # the next token's slot (0 top, 1 bass, 2 STEP) and frame
            top = 60 + 2 * (frame % 6)  # C4 D4 E4 ... climbing, then again
            want = torch.where(slot == 0, ON0 + top - 28, ON0 + top - 7 - 28)  # the bass a fifth below
            want = torch.where(slot == 2, torch.full_like(t, STEP), want)
            logits = torch.full((ids.shape[0], 1, len(ENC.vocab)), -5.0)
            logits[torch.arange(ids.shape[0]), 0, want] = 5.0
            second = torch.where(slot == 1, ON0 + top - 4 - 28 - (frame % 2), want)  # else a third or so
            logits[torch.arange(ids.shape[0]), 0, second] = torch.where(slot == 1, 3.0, 5.0)
            return logits, {"t": t + ids.shape[1]}

        @staticmethod
        def select_lanes(state, index):
            return {k: v.index_select(0, index) for k, v in state.items()}

    def pieces(rule, decode=None):
        out = continue_ids(Parallel(), [BOS], 2, 3 * 12, decode or DecodeConfig(), seed=1, rule=rule)
        tunes = [ENC.decode_tune(np.concatenate(([BOS], row))) for row in out.ids]
        return [voice_leading(t, ENC) for t in tunes]

    free = pieces(None)
    assert sum(s["parallels"] for s in free) > 5
    strict = pieces(NoOuterParallels(ENC))
    assert sum(s["parallels"] for s in strict) == 0 and sum(s["outer_moves"] for s in strict) > 5
    # beam search decodes under the rule too (its state entries are lanes like the rest)
    beams = pieces(NoOuterParallels(ENC), DecodeConfig(beam_size=3))
    assert sum(s["parallels"] for s in beams) == 0 and sum(s["outer_moves"] for s in beams) > 5
