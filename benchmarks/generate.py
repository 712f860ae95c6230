"""Generation speed: melodyrnn against a bare single-step nn.LSTM loop, in one run.

    python benchmarks/generate.py [--model CKPT] [--against CKPT] [--steps 512]

Events/s of :func:`melodyrnn.core.continuation.continue_ids` (sampling, state carried step to step)
at batch 1 and batch 64, against a bare loop of single ``nn.LSTM`` steps of the same size
(the same input width: with lookback inputs the LSTM reads more than the embedding)
with an embedding, output layer and multinomial sampling (both single-threaded below batch
16, as melodyrnn runs there), and the same bare loop on ``torch.lstm_cell``, the per-step
kernel melodyrnn decodes with (``nn.LSTM`` re-packs its weights on every call), and
melodyrnn's numpy decoder on the same weights (what sampling a checkpoint file uses). Then
the wall time of cold processes, median of ``--cold-runs``: ``melodyrnn generate
samples/jig.mid`` (4 outputs of 16 bars), ``melodyrnn generate samples/hymn.mid --bars 8``
(the chorale model, 4 outputs of 8 bars), and, as the baseline, ``python -c "import torch"``
alone. Goals: ratio >= 0.8 at batch 1; cold melody generate under 2 s, chorale under 3 s
on 2 cores. ``--model`` defaults to the shipped one; ``--against`` also times another
checkpoint in the same rounds and prints model / against.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint
from melodyrnn.core.continuation import continue_ids
from melodyrnn.core.loading import load_for_sampling


def bare_rate(cfg, batch: int, steps: int, input_size: int, cells: bool = False) -> float:
    """The bare loop, on the thread count melodyrnn uses for this batch size."""
    threads = torch.get_num_threads()
    if batch < 16:
        torch.set_num_threads(1)
    try:
        return _bare(cfg, batch, steps, input_size, cells)
    finally:
        torch.set_num_threads(threads)


def _bare(cfg, batch: int, steps: int, input_size: int, cells: bool) -> float:
    """nn.LSTM called one step at a time, or (``cells``) its weights through torch.lstm_cell."""
    torch.manual_seed(0)
    emb = torch.nn.Embedding(cfg.vocab_size, input_size)
    lstm = torch.nn.LSTM(input_size, cfg.hidden, cfg.layers, batch_first=True)
    out = torch.nn.Linear(cfg.hidden, cfg.vocab_size)
    gen = torch.Generator().manual_seed(0)
    ids = torch.ones(batch, dtype=torch.long)
    state = None
    weights = [[getattr(lstm, f"{n}_l{i}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
               for i in range(cfg.layers)]
    hc = [(torch.zeros(batch, cfg.hidden), torch.zeros(batch, cfg.hidden)) for _ in weights]
    with torch.no_grad():
        t = time.perf_counter()
        for _ in range(steps):
            if cells:
                x = emb(ids)
                for i, w in enumerate(weights):
                    hc[i] = torch.lstm_cell(x, hc[i], *w)
                    x = hc[i][0]
                h = x[:, None]
            else:
                h, state = lstm(emb(ids[:, None]), state)
            probs = torch.softmax(out(h[:, -1]), dim=-1)
            ids = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        return batch * steps / (time.perf_counter() - t)


def our_rate(model, batch: int, steps: int) -> float:
    """Decoding with a bar grid (16 tokens a bar), so that lookback and bar copy do their work."""
    t = time.perf_counter()
    continue_ids(model, [1], batch, steps, seed=0, period=16)
    return batch * steps / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--steps", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--against", default=None, help="another checkpoint, timed in the same rounds")
    ap.add_argument("--cold-runs", type=int, default=3)
    args = ap.parse_args()
    other = load_for_sampling(args.against)[0] if args.against else None  # numpy, as generate samples it
    other_torch = model_from_checkpoint(load_checkpoint(args.against)) if args.against else None
    ckpt = load_checkpoint(args.model)
    model = model_from_checkpoint(ckpt)
    fast = load_for_sampling(args.model)[0]
    cfg = model.config
    print(f"model {cfg.kind} {cfg.layers}x{cfg.hidden} (lookback {cfg.lookback}), "
          f"{args.steps} steps, {args.rounds} interleaved rounds, threads {torch.get_num_threads()}")
    width = model.core.input_size if hasattr(model.core, "input_size") else model.core.rnn.input_size
    for batch in (1, 64):
        rounds = []  # interleaved, so that a noisy neighbour slows all sides alike
        for _ in range(args.rounds):
            rounds.append((our_rate(model, batch, args.steps), bare_rate(cfg, batch, args.steps, width),
                           bare_rate(cfg, batch, args.steps, width, cells=True),
                           our_rate(other, batch, args.steps) if other is not None else 1.0,
                           our_rate(fast, batch, args.steps),
                           our_rate(other_torch, batch, args.steps) if other is not None else 1.0))
        ours, bare, cells, _, numpy_rate, _ = (max(r[i] for r in rounds) for i in range(6))
        paired = statistics.median(r[0] / r[1] for r in rounds)
        print(f"batch {batch:3d}: melodyrnn {ours:8.0f} events/s, bare nn.LSTM steps "
              f"{bare:8.0f} events/s, ratio {ours / bare:.2f} (best of each; median of "
              f"paired rounds {paired:.2f}); bare torch.lstm_cell loop {cells:8.0f} events/s, "
              f"ratio {ours / cells:.2f}")
        print(f"           melodyrnn numpy decoder {numpy_rate:8.0f} events/s, ratio to bare nn.LSTM "
              f"{numpy_rate / bare:.2f}, to melodyrnn on torch {numpy_rate / ours:.2f}")
        if other is not None:
            theirs = max(r[3] for r in rounds)
            print(f"           {args.against} (numpy): {theirs:8.0f} events/s; "
                  f"{args.model} (numpy) / it = "
                  f"{numpy_rate / theirs:.2f} (median of paired rounds "
                  f"{statistics.median(r[4] / r[3] for r in rounds):.2f})")
            on_torch = max(r[5] for r in rounds)
            print(f"           {args.against} on torch (how generate sampled before 2026-12-02): "
                  f"{on_torch:8.0f} events/s; {args.model} (numpy) / it = {numpy_rate / on_torch:.2f}")
    samples = Path(__file__).resolve().parent.parent / "samples"
    generate = [sys.executable, "-m", "melodyrnn", "generate"]
    colds = {"import torch": [sys.executable, "-c", "import torch"],
             "generate jig.mid (4 x 16 bars)": [*generate, str(samples / "jig.mid"), "--model", args.model,
                                                "--bars", "16"],
             "generate hymn.mid (chorale, 4 x 8 bars)": [*generate, str(samples / "hymn.mid"), "--bars", "8"]}
    times = {name: [] for name in colds}
    for _ in range(args.cold_runs):  # interleaved rounds again
        for name, command in colds.items():
            with tempfile.TemporaryDirectory() as tmp:
                out = ["--output-dir", tmp] if "generate" in command else []
                t = time.perf_counter()
                subprocess.run(command + out, check=True, capture_output=True)
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["import torch"])
    for name, runs in times.items():
        med = statistics.median(runs)
        print(f"cold `{name}`: median {med:.2f} s of {len(runs)} ({', '.join(f'{r:.2f}' for r in runs)}); "
              f"/ import torch = {med / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
