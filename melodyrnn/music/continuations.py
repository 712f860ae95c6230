"""The honest test of seeded generation: continue real tunes, compare with how they go on.

Each tune long enough is cut after ``primer_bars`` bars; the model continues it for
``bars`` bars, and the continuation is compared with the tune's own next ``bars`` bars on
form (:mod:`melodyrnn.music.structure`: bars that repeat an earlier bar, new bars, one 8-bar block
three times in a row, notes in the primer's pitch classes) and, over the whole set, on the
Yang-Lerch features (:func:`melodyrnn.music.sample_eval.compare_sets`). The real continuation's
bits/note under the model (given its primer) is scored too. Results are grouped by the
folder each tune lies in (its collection).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from melodyrnn.music.compose import GenerateConfig, generate
from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.core.models.form import length_posterior, spans_reaching
from melodyrnn.music.copies import bar_contents
from melodyrnn.music.ingest.files import discover
from melodyrnn.core.loading import load_with_checkpoint
from melodyrnn.music.midi_io import read_midi
from melodyrnn.music.notes import Track, Tune
from melodyrnn.music.sample_eval import compare_sets
from melodyrnn.music.seeds import seed_window
from melodyrnn.music.structure import has_aaa, in_key_rate, new_bars, repeat_fraction

__all__ = ["ContinuationConfig", "evaluate_continuations", "continuation_table", "continuation_form"]

METRICS = ("repeat_fraction", "new_bars", "aaa", "in_primer_key")


@dataclass(frozen=True)
class ContinuationConfig:
    """``primer_bars`` bars of each tune prime ``num_outputs`` continuations of ``bars`` bars.

    Each tune's continuations are one :func:`generate` call, so the settings are checked
    here, once, by the :class:`GenerateConfig` they make (sizes, the work budget): a
    ``ValueError`` now, not every tune skipped later.
    """

    primer_bars: int = 8
    bars: int = 16
    num_outputs: int = 1
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    max_plays: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        self.generate_config(self.seed)

    def generate_config(self, seed: int) -> GenerateConfig:
        """The settings of one tune's :func:`generate` call (``seed``: that tune's)."""
        return GenerateConfig(num_outputs=self.num_outputs, bars=self.bars, decode=self.decode, seed=seed,
                              primer_bars=self.primer_bars, from_bar=self.primer_bars + 1,
                              max_plays=self.max_plays)


def continuation_form(bars: list[tuple], primer_bars: int, pitch: np.ndarray, primer_pcs: np.ndarray) -> dict:
    """The form of a continuation (:data:`METRICS`): ``bars`` are the bar contents of primer
    and continuation, the first ``primer_bars`` of them the primer's; ``pitch`` the
    continuation's notes, ``primer_pcs`` the primer's pitch classes."""
    return {"repeat_fraction": repeat_fraction(bars, primer_bars),
            "new_bars": new_bars(bars, primer_bars), "aaa": float(has_aaa(bars)),
            "in_primer_key": in_key_rate(pitch, primer_pcs)}


def _score_real(model, ids: list[int], period: int, from_token: int, notes: int) -> float:
    """bits/note of ``ids[from_token:]`` (the real continuation, end token left out) given
    the ids before it. A model that reads the tune's length does not know it: the score is
    the mixture over length classes weighted by their posterior given the primer, over the
    classes long enough for primer and continuation (as generation draws them)."""
    prior = model.length_prior()
    lanes = 1 if prior is None else len(prior)
    state = model.initial_state(lanes, torch.full((lanes,), period),
                                classes=None if prior is None else np.arange(lanes))
    with torch.no_grad():
        logp, _ = model(torch.tensor([ids[:-1]] * lanes), state)  # (lanes, T, V)
    per_token = -logp[:, torch.arange(len(ids) - 1), torch.tensor(ids[1:])].double().numpy()  # (lanes, T)
    primer, cont = per_token[:, :from_token - 1].sum(1), per_token[:, from_token - 1:len(ids) - 2].sum(1)
    if prior is None:
        nats = float(cont[0])
    else:
        post = length_posterior(prior, primer, spans_reaching(-(-(len(ids) - 2) // period)))
        nats = -float(np.logaddexp.reduce(post - cont))  # -ln of the posterior mixture
    return nats / math.log(2) / notes if notes else math.nan


def _track(pitch, start_beats, end_beats) -> Tune:
    s, e = np.asarray(start_beats, float), np.asarray(end_beats, float)
    return Tune([Track("melody", 0, False, np.asarray(pitch, np.int16), np.full(len(s), 90, np.int16),
                       s, e, s / 2, e / 2)])


def _one(loaded, enc, tune: Tune, cfg: ContinuationConfig, seed: int) -> dict | str:
    spq = enc.config.steps_per_quarter
    total = cfg.primer_bars + cfg.bars
    whole = seed_window(tune, spq, total, total + 1) if seed_window(tune, spq, 0).seed_bars >= total \
        else None
    if whole is None or whole.first_bar != 1:
        return f"shorter than {total} bars"
    m, bar = whole.melody, whole.melody.steps_per_bar
    real_bars = bar_contents(m.pitch, m.start_steps, m.end_steps, bar, total)
    cut = cfg.primer_bars * bar
    primer_pcs = np.unique(m.pitch[m.start_steps < cut] % 12)
    cont = m.start_steps >= cut
    real = continuation_form(real_bars, cfg.primer_bars, m.pitch[cont], primer_pcs)
    ids = enc.encode(m).tolist()
    real["bits_per_note"] = _score_real(loaded[0], ids, bar, 1 + cut, int(cont.sum()))
    outs, tunes = [], []
    for out in generate(loaded, tune, None, cfg.generate_config(seed)):
        c = out.continuation
        outs.append(continuation_form(real_bars[:cfg.primer_bars] + out.bars()[1], cfg.primer_bars, c.pitch,
                             primer_pcs))
        tunes.append(_track(c.pitch, c.start_steps / spq, c.end_steps / spq))
    generated = {k: float(np.mean([o[k] for o in outs])) for k in METRICS}
    real_tune = _track(m.pitch[cont], (m.start_steps[cont] - cut) / spq, (m.end_steps[cont] - cut) / spq)
    return {"real": real, "generated": generated, "generated_tunes": tunes, "real_tune": real_tune}


def evaluate_continuations(checkpoint, paths: list[str], cfg: ContinuationConfig = ContinuationConfig(),
                           features: bool = True) -> dict:
    """Continue each tune of ``paths`` (files or folders) and compare with its real
    continuation; returns per-collection means, the overall means, skipped files with
    reasons, and (``features``) the Yang-Lerch comparison of all continuations."""
    loaded = load_with_checkpoint(checkpoint)
    enc = loaded[1]
    if getattr(enc, "name", "") != "melody":
        raise ValueError("evaluate-continuations needs a melody model")
    rows, skipped, gen_tunes, real_tunes = [], [], [], []
    for i, path in enumerate(discover(list(paths))):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = _one(loaded, enc, read_midi(path), cfg, cfg.seed + i)
        except (ValueError, OSError) as e:
            result = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(result, str):
            skipped.append({"path": path, "reason": result})
            continue
        rows.append({"path": path, "collection": Path(path).parent.name, **{
            f"{side}_{k}": v for side in ("real", "generated") for k, v in result[side].items()}})
        gen_tunes += result["generated_tunes"]
        real_tunes.append(result["real_tune"])
    if not rows:
        other = [s for s in skipped if not s["reason"].startswith("shorter than")]
        if other:  # not the length: say what stopped them
            raise ValueError(f"no tune could be continued ({len(other)} of {len(skipped)} for other "
                             f"reasons than length), e.g. {other[0]['path']}: {other[0]['reason']}")
        raise ValueError(f"no tune has {cfg.primer_bars + cfg.bars} bars to continue")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["collection"], []).append(r)
    out = {"config": {"primer_bars": cfg.primer_bars, "bars": cfg.bars, "num_outputs": cfg.num_outputs,
                      "max_plays": cfg.max_plays, "seed": cfg.seed},
           "collections": {name: _summary(g) for name, g in sorted(groups.items())},
           "all": _summary(rows), "skipped": skipped, "tunes": rows}
    if features and len(real_tunes) >= 2:
        out["features"] = compare_sets(gen_tunes, real_tunes, seed=cfg.seed)["features"]
    return out


def _summary(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k.startswith(("real_", "generated_"))]
    return {"tunes": len(rows), **{k: float(np.nanmean([r[k] for r in rows])) for k in keys}}


def continuation_table(result: dict) -> str:
    """Markdown: per collection, generated / real for each form metric."""
    lines = ["| collection | tunes | repeat fraction | new bars | A A A | in primer's pitch classes "
             "| real continuation bits/note |", "|---|---|---|---|---|---|---|"]
    for name, s in [*result["collections"].items(), ("all", result["all"])]:
        cells = [f"{s['generated_' + k]:.2f} / {s['real_' + k]:.2f}" for k in ("repeat_fraction", "new_bars")]
        cells.append(f"{s['generated_aaa']:.0%} / {s['real_aaa']:.0%}")
        cells.append(f"{s['generated_in_primer_key']:.3f} / {s['real_in_primer_key']:.3f}")
        cells.append(f"{s['real_bits_per_note']:.3f}")
        lines.append(f"| {name} | {s['tunes']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("(generated / real; A A A: one 8-bar block three times in a row, share of tunes)")
    return "\n".join(lines)
