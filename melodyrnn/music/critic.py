"""What a musician checks in a continuation: statistics of a (primer, continuation) pair.

A critic compares a tune's real continuation with a model's: does it close on the primer's
final or the tonic, does its second half move to a new register (a B part), does it repeat
the primer's bars exactly, nearly, or not at all, does its rhythm and its intervals keep to
the primer's? :func:`pair_statistics` answers with about eighty numbers (:data:`STATISTICS`
says what each means), ids-free: notes are pitches and times in beats, the primer's from its
first bar line, the continuation's from its own. :func:`two_afc` turns a classifier's scores
of real and generated continuations into the two-alternative forced choice (per tune: is the
real one scored as more real?), and :func:`bootstrap_interval` gives its interval over tunes.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.music.keys import infer_key
from melodyrnn.music.structure import GRID_PER_BEAT, has_aaa, in_key_rate, tune_bars

__all__ = ["STATISTICS", "pair_statistics", "padded_bars", "near", "two_afc", "bootstrap_interval"]

#: note-length classes of the rhythm histogram, in beats (the last: everything else)
LENGTHS = {"16th": 0.25, "8th": 0.5, "dotted_8th": 0.75, "quarter": 1.0, "dotted_quarter": 1.5}

#: name -> what it measures ("the continuation" = the bars after the primer; "h1", "h2" its halves)
STATISTICS = {
    "cad_last_on_primer_final": "last note on the primer's final pitch class",
    "cad_last_on_tonic": "last note on the tonic (key inferred from the primer)",
    "cad_last_in_tonic_triad": "last note in the tonic triad",
    "cad_last_len_minus_primer_last": "last note's length minus the primer's last note's (16ths)",
    "cad_end_silence": "beats of silence after the last note",
    "cad_last_onset_in_bar": "last note's onset in its bar (share of the bar)",
    "cad_last_bar_onsets": "onsets in the last bar",
    "cad_last_bar_rhythm_as_primer_last": "last bar's rhythm equals the primer's last bar's",
    "cad_last_bar_as_primer_last": "last bar equals the primer's last bar",
    "cad_last_interval": "last note's leap from the note before (semitones)",
    "cad_last_minus_primer_last": "last note minus the primer's last note (semitones)",
    "cad_mid_on_primer_final": "h1's last note on the primer's final pitch class",
    "cad_mid_len_minus_primer_last": "h1's last note's length minus the primer's last's (16ths)",
    "reg_mean": "mean pitch above the primer's (semitones)",
    "reg_std": "pitch spread above the primer's (semitones)",
    "reg_max": "highest pitch above the primer's",
    "reg_min": "lowest pitch above the primer's",
    "reg_range": "pitch range minus the primer's",
    "reg_h1_mean": "h1's mean pitch above the primer's",
    "reg_h2_mean": "h2's mean pitch above the primer's",
    "reg_h2_max": "h2's highest pitch above the primer's",
    "reg_h2_minus_h1": "h2's mean pitch above h1's",
    "reg_above_primer": "share of notes above the primer's highest",
    "reg_below_primer": "share of notes below the primer's lowest",
    "con_up": "share of intervals up",
    "con_down": "share of intervals down",
    "con_turns": "changes of direction per interval",
    "con_h1_bar_corr": "correlation of h1's bar mean pitches with the primer's",
    "con_h2_bar_corr": "correlation of h2's bar mean pitches with the primer's",
    "con_first_minus_primer_last": "first note minus the primer's last note (semitones)",
    "con_peak_at": "where the highest note lies (share of the continuation)",
    "con_phrase_end_drop": "4-bar phrases: last note below the phrase's mean (semitones)",
    "con_phrase_end_long": "4-bar phrases: last note's length over the phrase's mean",
    "con_pair_end_long": "2-bar units: last note's length over the unit's mean",
    **{f"rhy_len_{k}": f"share of {k.replace('_', ' ')} notes" for k in LENGTHS},
    "rhy_len_long": "share of notes of a half note or longer",
    "rhy_len_hist_l1": "note-length histogram's L1 distance to the primer's",
    "rhy_onsets_per_bar": "onsets per bar",
    "rhy_onsets_minus_primer": "onsets per bar minus the primer's",
    "rhy_onsets_std": "spread of onsets per bar",
    "rhy_h2_onsets_minus_h1": "h2's onsets per bar minus h1's",
    "rhy_phrase_end_onsets": "onsets in the last bar of each 4-bar phrase minus the mean bar's",
    "rhy_pair_end_onsets": "onsets in the second bar of each pair minus the first's",
    "rhy_offbeat": "share of onsets off the beat",
    "rhy_offbeat_minus_primer": "share of onsets off the beat minus the primer's",
    "rhy_syncopated": "share of notes starting off the beat and held over the next beat",
    "rhy_rest": "share of time silent",
    "rhy_rest_minus_primer": "share of time silent minus the primer's",
    "rhy_bars_in_primer": "share of bars whose rhythm is a primer bar's",
    "rhy_distinct": "distinct bar rhythms per bar",
    "rhy_h2_new": "share of h2's bars with a rhythm not heard before",
    "rep_primer": "share of bars equal to a primer bar",
    "rep_own": "share of bars equal to an earlier continuation bar, not a primer bar",
    "rep_near": "share of bars within a note or two of an earlier bar, not equal",
    "rep_transposed": "share of bars an earlier bar transposed, not equal",
    "rep_new": "share of bars never heard before, nor near",
    "rep_primer_run": "longest run of bars replaying primer bars in order",
    "rep_aaa": "one block of primer-length bars three times in a row",
    "rep_in_place": "share of bars equal to the primer's bar in the same place",
    "sec_h2_first_is_first": "h2's first bar equals the primer's first",
    "sec_h2_first_is_h1_first": "h2's first bar equals h1's first",
    "sec_h2_first_near_primer": "h2's first bar equals or is near a primer bar",
    "sec_h1_as_primer": "share of h1's bars equal to the primer's bar in place",
    "sec_h2_as_primer": "share of h2's bars equal to the primer's bar in place",
    "sec_h2_as_h1": "share of h2's bars equal to h1's bar in place",
    "sec_h1_sim_primer": "h1's note overlap with the primer, bar by bar",
    "sec_h2_sim_primer": "h2's note overlap with the primer, bar by bar",
    "sec_h2_sim_h1": "h2's note overlap with h1, bar by bar",
    "sec_h2_pc_l1": "h2's pitch-class histogram's L1 distance to the primer's",
    "int_unison": "share of repeated notes",
    "int_step": "share of steps (1-2 semitones)",
    "int_third": "share of thirds (3-4 semitones)",
    "int_leap": "share of leaps (5 semitones or more)",
    "int_max": "largest leap (semitones)",
    "int_mean": "mean interval size (semitones)",
    "int_mean_minus_primer": "mean interval size minus the primer's",
    "int_step_minus_primer": "share of steps minus the primer's",
    "int_barline": "mean interval size across bar lines minus within bars",
    "int_barline_max": "largest interval across a bar line minus the largest within bars",
    "rel_pc_l1": "pitch-class histogram's L1 distance to the primer's (by duration)",
    "rel_in_primer_pcs": "share of notes in the primer's pitch classes",
    "rel_same_key": "the inferred key is the primer's",
    "rel_entropy_minus_primer": "pitch-class entropy minus the primer's (bits)",
    "rel_new_pcs": "pitch classes not in the primer",
    "rel_density": "notes per bar over the primer's",
}


def padded_bars(pitch, start, end, bar_beats: float, n: int) -> list[tuple]:
    """The contents of the first ``n`` bars of notes (beats from a bar line), empty bars
    ``()`` where the notes stop short."""
    bars = tune_bars(pitch, start, end, bar_beats) if len(pitch) else []
    return (list(bars) + [()] * n)[:n]


def near(a: tuple, b: tuple, notes: int = 2) -> bool:
    """Two bars within ``notes`` notes of each other, not equal: at most ``notes`` notes of
    each are not in the other (a changed note counts once on each side)."""
    if a == b or not a or not b:
        return False
    sa, sb = set(a), set(b)
    return len(sa - sb) <= notes and len(sb - sa) <= notes


def _rhythm(bar: tuple) -> tuple:
    return tuple((o, d) for o, d, _ in bar)


def _shape(bar: tuple) -> tuple:
    """A bar up to transposition: its rhythm and its pitches from its first."""
    return tuple((o, d, p - bar[0][2]) for o, d, p in bar) if bar else ()


def _similarity(a: tuple, b: tuple) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def _pc_hist(pitch, weight) -> np.ndarray:
    h = np.bincount(np.asarray(pitch, np.int64) % 12, weights=weight, minlength=12).astype(float)
    return h / h.sum() if h.sum() else h


def _length_hist(length: np.ndarray) -> np.ndarray:
    known = np.array(list(LENGTHS.values()))
    hit = np.isclose(length[:, None], known[None, :], atol=1e-3)
    counts = np.concatenate([hit.sum(0), [(length >= 2 - 1e-3).sum()]]).astype(float)
    counts = np.concatenate([counts, [len(length) - counts.sum()]])
    return counts / len(length) if len(length) else counts


def _intervals(pitch: np.ndarray) -> np.ndarray:
    return np.diff(np.asarray(pitch, np.int64))


def _offbeat(start: np.ndarray) -> np.ndarray:
    return np.abs(start - np.rint(start)) > 1e-6


def _rest_share(start, end, total: float) -> float:
    if total <= 0:
        return 0.0
    grid = np.zeros(int(round(total * GRID_PER_BEAT)), bool)
    for s, e in zip(start, end):
        grid[int(round(s * GRID_PER_BEAT)):int(round(e * GRID_PER_BEAT))] = True
    return float(1 - grid.mean()) if grid.size else 0.0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _bar_means(pitch, start, bar_beats: float, n: int) -> np.ndarray:
    idx = np.floor(np.asarray(start) / bar_beats + 1e-9).astype(int)
    return np.array([np.mean(pitch[idx == i]) if (idx == i).any() else np.nan for i in range(n)])


def _entropy(h: np.ndarray) -> float:
    h = h[h > 0]
    return float(-(h * np.log2(h)).sum())


def pair_statistics(primer: tuple, continuation: tuple, bar_beats: float, primer_bars: int = 8,
                    bars: int = 16) -> dict[str, float]:
    """Every statistic of :data:`STATISTICS` for one pair.

    ``primer`` and ``continuation`` are ``(pitch, start_beats, end_beats)`` of a monophonic
    melody, the primer's times from its first bar line (``primer_bars`` bars of
    ``bar_beats`` beats), the continuation's from its own (``bars`` bars; notes after them
    are left out, notes held past them cut). The continuation's halves are h1 and h2.
    """
    pp, ps, pe = (np.asarray(a, float) for a in primer)
    cp, cs, ce = (np.asarray(a, float) for a in continuation)
    keep = cs < bars * bar_beats - 1e-9
    cp, cs, ce = cp[keep], cs[keep], np.minimum(ce[keep], bars * bar_beats)
    pp, cp = pp.astype(np.int64), cp.astype(np.int64)
    half = bars // 2
    n, m = len(cp), len(pp)
    if not n or not m:
        raise ValueError("a primer and a continuation need notes")
    pl, cl = pe - ps, ce - cs
    key = infer_key(pp, pl) or (int(pp[-1] % 12), False)
    tonic, final = key[0], int(pp[-1] % 12)
    triad = {tonic, (tonic + (3 if key[1] else 4)) % 12, (tonic + 7) % 12}
    h1 = cs < half * bar_beats
    s: dict[str, float] = {}

    # cadence
    last_bar = np.floor(cs / bar_beats + 1e-9) == bars - 1
    pbars = padded_bars(pp, ps, pe, bar_beats, primer_bars)
    cbars = padded_bars(cp, cs, ce, bar_beats, bars)
    s["cad_last_on_primer_final"] = float(cp[-1] % 12 == final)
    s["cad_last_on_tonic"] = float(cp[-1] % 12 == tonic)
    s["cad_last_in_tonic_triad"] = float(cp[-1] % 12 in triad)
    s["cad_last_len_minus_primer_last"] = (cl[-1] - pl[-1]) * 4
    s["cad_end_silence"] = bars * bar_beats - ce[-1]
    s["cad_last_onset_in_bar"] = (cs[-1] % bar_beats) / bar_beats
    s["cad_last_bar_onsets"] = float(last_bar.sum())
    s["cad_last_bar_rhythm_as_primer_last"] = float(_rhythm(cbars[-1]) == _rhythm(pbars[-1]))
    s["cad_last_bar_as_primer_last"] = float(cbars[-1] == pbars[-1])
    s["cad_last_interval"] = float(abs(cp[-1] - cp[-2])) if n > 1 else 0.0
    s["cad_last_minus_primer_last"] = float(cp[-1] - pp[-1])
    mid = np.flatnonzero(h1)
    s["cad_mid_on_primer_final"] = float(cp[mid[-1]] % 12 == final) if mid.size else 0.0
    s["cad_mid_len_minus_primer_last"] = (cl[mid[-1]] - pl[-1]) * 4 if mid.size else 0.0

    # register, against the primer
    pm = pp.mean()
    s["reg_mean"] = cp.mean() - pm
    s["reg_std"] = cp.std() - pp.std()
    s["reg_max"] = float(cp.max() - pp.max())
    s["reg_min"] = float(cp.min() - pp.min())
    s["reg_range"] = float(np.ptp(cp) - np.ptp(pp))
    s["reg_h1_mean"] = cp[h1].mean() - pm if h1.any() else 0.0
    s["reg_h2_mean"] = cp[~h1].mean() - pm if (~h1).any() else 0.0
    s["reg_h2_max"] = float(cp[~h1].max() - pp.max()) if (~h1).any() else 0.0
    s["reg_h2_minus_h1"] = s["reg_h2_mean"] - s["reg_h1_mean"]
    s["reg_above_primer"] = float((cp > pp.max()).mean())
    s["reg_below_primer"] = float((cp < pp.min()).mean())

    # contour
    iv, piv = _intervals(cp), _intervals(pp)
    sign = np.sign(iv[iv != 0])
    s["con_up"] = float((iv > 0).mean()) if iv.size else 0.0
    s["con_down"] = float((iv < 0).mean()) if iv.size else 0.0
    s["con_turns"] = float((np.diff(sign) != 0).sum() / max(iv.size, 1))
    pmeans = _bar_means(pp, ps, bar_beats, primer_bars)
    cmeans = _bar_means(cp, cs, bar_beats, bars)
    s["con_h1_bar_corr"] = _corr(cmeans[:half][:primer_bars], pmeans[:half])
    s["con_h2_bar_corr"] = _corr(cmeans[half:][:primer_bars], pmeans[:bars - half])
    s["con_first_minus_primer_last"] = float(cp[0] - pp[-1])
    s["con_peak_at"] = cs[int(np.argmax(cp))] / (bars * bar_beats)
    phrase = np.floor(cs / (4 * bar_beats) + 1e-9)
    drops = [cp[phrase == k].mean() - cp[phrase == k][-1] for k in np.unique(phrase)]
    s["con_phrase_end_drop"] = float(np.mean(drops))
    s["con_phrase_end_long"] = float(np.mean([cl[phrase == k][-1] / cl[phrase == k].mean()
                                              for k in np.unique(phrase)]))
    pair = np.floor(cs / (2 * bar_beats) + 1e-9)
    s["con_pair_end_long"] = float(np.mean([cl[pair == k][-1] / cl[pair == k].mean()
                                            for k in np.unique(pair)]))

    # rhythm
    hist, phist = _length_hist(cl), _length_hist(pl)
    for name, v in zip([*LENGTHS, "long"], hist):
        s[f"rhy_len_{name}"] = float(v)
    s["rhy_len_hist_l1"] = float(np.abs(hist - phist).sum())
    per_bar = np.bincount(np.floor(cs / bar_beats + 1e-9).astype(int), minlength=bars)[:bars]
    s["rhy_onsets_per_bar"] = n / bars
    s["rhy_onsets_minus_primer"] = n / bars - m / primer_bars
    s["rhy_onsets_std"] = float(per_bar.std())
    s["rhy_h2_onsets_minus_h1"] = float(per_bar[half:].mean() - per_bar[:half].mean())
    s["rhy_phrase_end_onsets"] = float(per_bar[3::4].mean() - per_bar.mean())
    s["rhy_pair_end_onsets"] = float(per_bar[1::2].mean() - per_bar[0::2].mean())
    off, poff = _offbeat(cs), _offbeat(ps)
    s["rhy_offbeat"] = float(off.mean())
    s["rhy_offbeat_minus_primer"] = float(off.mean() - poff.mean())
    s["rhy_syncopated"] = float((off & (ce > np.floor(cs) + 1 + 1e-6)).mean())
    rest = _rest_share(cs, ce, bars * bar_beats)
    s["rhy_rest"] = rest
    s["rhy_rest_minus_primer"] = rest - _rest_share(ps, pe, primer_bars * bar_beats)
    prhythms = {_rhythm(b) for b in pbars}
    s["rhy_bars_in_primer"] = float(np.mean([_rhythm(b) in prhythms for b in cbars]))
    s["rhy_distinct"] = len({_rhythm(b) for b in cbars}) / bars
    heard = prhythms | {_rhythm(b) for b in cbars[:half]}
    s["rhy_h2_new"] = float(np.mean([_rhythm(b) not in heard for b in cbars[half:]]))

    # repeats, exact and near
    prim, eq_p, eq_own, nr, tr, new = set(pbars), 0, 0, 0, 0, 0
    for i, b in enumerate(cbars):
        earlier = pbars + cbars[:i]
        if b in prim:
            eq_p += 1
        elif b in earlier:
            eq_own += 1
        elif any(near(b, e) for e in earlier):
            nr += 1
        elif b and _shape(b) in {_shape(e) for e in earlier}:
            tr += 1
        else:
            new += 1
    s["rep_primer"], s["rep_own"] = eq_p / bars, eq_own / bars
    s["rep_near"] = nr / bars
    s["rep_transposed"], s["rep_new"] = tr / bars, new / bars
    best = 0
    for i in range(bars):
        for j in range(primer_bars):
            k = 0
            while i + k < bars and j + k < primer_bars and cbars[i + k] and cbars[i + k] == pbars[j + k]:
                k += 1
            best = max(best, k)
    s["rep_primer_run"] = float(best)
    s["rep_aaa"] = float(has_aaa(pbars + cbars, primer_bars))
    s["rep_in_place"] = float(np.mean([b == pbars[i % primer_bars] for i, b in enumerate(cbars)]))

    # sections: does h2 restart the primer, or h1, or contrast?
    a, b2 = cbars[:half], cbars[half:]
    s["sec_h2_first_is_first"] = float(bool(b2) and b2[0] == pbars[0])
    s["sec_h2_first_is_h1_first"] = float(bool(b2) and b2[0] == a[0])
    s["sec_h2_first_near_primer"] = float(bool(b2) and any(b2[0] == p or near(b2[0], p) for p in pbars))
    s["sec_h1_as_primer"] = float(np.mean([x == pbars[i % primer_bars] for i, x in enumerate(a)]))
    s["sec_h2_as_primer"] = float(np.mean([x == pbars[i % primer_bars] for i, x in enumerate(b2)]))
    s["sec_h2_as_h1"] = float(np.mean([x == y for x, y in zip(b2, a)]))
    s["sec_h1_sim_primer"] = float(np.mean([_similarity(x, pbars[i % primer_bars]) for i, x in enumerate(a)]))
    s["sec_h2_sim_primer"] = float(np.mean([_similarity(x, pbars[i % primer_bars])
                                            for i, x in enumerate(b2)]))
    s["sec_h2_sim_h1"] = float(np.mean([_similarity(x, y) for x, y in zip(b2, a)]))
    pch = _pc_hist(pp, pl)
    s["sec_h2_pc_l1"] = float(np.abs(_pc_hist(cp[~h1], cl[~h1]) - pch).sum()) if (~h1).any() else 2.0

    # intervals
    size, psize = np.abs(iv), np.abs(piv)
    share = (lambda x, lo, hi: float(((x >= lo) & (x <= hi)).mean()) if x.size else 0.0)
    s["int_unison"], s["int_step"] = share(size, 0, 0), share(size, 1, 2)
    s["int_third"], s["int_leap"] = share(size, 3, 4), share(size, 5, 127)
    s["int_max"] = float(size.max()) if size.size else 0.0
    s["int_mean"] = float(size.mean()) if size.size else 0.0
    s["int_mean_minus_primer"] = s["int_mean"] - (float(psize.mean()) if psize.size else 0.0)
    s["int_step_minus_primer"] = s["int_step"] - share(psize, 1, 2)
    cbar = np.floor(cs / bar_beats + 1e-9)
    across = np.diff(cbar) > 0
    s["int_barline"] = (float(size[across].mean()) if across.any() else 0.0) \
        - (float(size[~across].mean()) if (~across).any() else 0.0)
    s["int_barline_max"] = (float(size[across].max()) if across.any() else 0.0) \
        - (float(size[~across].max()) if (~across).any() else 0.0)

    # relation to the primer
    ch = _pc_hist(cp, cl)
    s["rel_pc_l1"] = float(np.abs(ch - pch).sum())
    s["rel_in_primer_pcs"] = in_key_rate(cp, np.unique(pp % 12))
    s["rel_same_key"] = float(infer_key(cp, cl) == key)
    s["rel_entropy_minus_primer"] = _entropy(ch) - _entropy(pch)
    s["rel_new_pcs"] = float(len(set((cp % 12).tolist()) - set((pp % 12).tolist())))
    s["rel_density"] = (n / bars) / (m / primer_bars)
    assert list(s) == list(STATISTICS), set(s) ^ set(STATISTICS)
    return {k: float(v) for k, v in s.items()}


def two_afc(real: np.ndarray, fake: np.ndarray, fake_tune: np.ndarray) -> np.ndarray:
    """Per tune, the two-alternative forced choice: ``real[t]`` is the score (higher: more
    real) of tune ``t``'s real continuation, ``fake[j]`` that of a generated one of tune
    ``fake_tune[j]``; each tune's value is the share of its generated ones the real one
    outscores (a tie counts half). A critic that cannot tell gives 0.5 on average."""
    real, fake, fake_tune = np.asarray(real, float), np.asarray(fake, float), np.asarray(fake_tune)
    win = (real[fake_tune] > fake) + 0.5 * (real[fake_tune] == fake)
    total = np.bincount(fake_tune, weights=win, minlength=len(real))
    count = np.bincount(fake_tune, minlength=len(real))
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def bootstrap_interval(values: np.ndarray, level: float = 0.95, draws: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one per tune)."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if not v.size:
        return (float("nan"), float("nan"))
    means = v[np.random.default_rng(seed).integers(0, v.size, (draws, v.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
