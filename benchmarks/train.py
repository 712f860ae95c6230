"""Training speed and memory, each against a baseline measured in the same run.

    python benchmarks/train.py [--data DIR] [--steps N]

1. Tokens/s of melodyrnn's training step (LSTM 2x256, batch 64 x 128, CPU) against a
   bare PyTorch loop -- nn.Embedding + nn.LSTM + nn.Linear + Adam of the same sizes on
   the same batches. Goal: ratio >= 0.9.
2. The written-out Elman equations against torch's fused RNN kernel (same step).
3. Peak RSS of ``melodyrnn train`` on the full dataset (memory-mapped). Goal < 1.5 GB.

DIR defaults to $MELODYRNN_DATA/midi; it is ingested into a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def ingest(data: Path, out: Path) -> None:
    from melodyrnn.core.registry import get_encoding
    from melodyrnn.music.ingest.build import IngestConfig, run_ingest

    run_ingest(IngestConfig(inputs=(str(data),), output=str(out),
                            encoding=get_encoding("melody").to_dict(), progress=False))


def trainer(dataset: Path, run: Path, **model):
    from melodyrnn.core.trainer import TrainConfig, Trainer

    cfg = TrainConfig(batch_size=64, seq_len=128, device="cpu", warmup_steps=0)
    return Trainer(dataset, run, model, cfg, None, (3,), None, False, False)


def time_steps(fn, steps: int, warmup: int = 2) -> float:
    for i in range(warmup):
        fn(i)
    t = time.perf_counter()
    for i in range(warmup, warmup + steps):
        fn(i)
    return time.perf_counter() - t


def bench_ours(t, plan, steps: int) -> float:
    tokens = 0

    def step(i):
        nonlocal tokens
        t.step_in_epoch = i
        _, count = t.train_step(plan, 10_000)
        if i >= 2:
            tokens += count

    seconds = time_steps(step, steps)
    return tokens / seconds


def bench_bare(dataset: Path, plan, steps: int, vocab: int) -> float:
    from melodyrnn.core.batching import make_batch
    from melodyrnn.core.dataset import load_dataset

    train = load_dataset(dataset).split("train")
    batches = [make_batch(train, plan, i, 128) for i in range(steps + 2)]
    torch.manual_seed(0)
    emb = torch.nn.Embedding(vocab, 128)
    lstm = torch.nn.LSTM(128, 256, 2, batch_first=True)
    out = torch.nn.Linear(256, vocab)
    params = [*emb.parameters(), *lstm.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    tokens = 0

    def step(i):
        nonlocal tokens
        b = batches[i]
        x, y = torch.from_numpy(b.inputs), torch.from_numpy(b.targets)
        h, _ = lstm(emb(x))
        loss = torch.nn.functional.cross_entropy(out(h).reshape(-1, vocab), y.reshape(-1),
                                                 ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            tokens += int((y != -100).sum())

    seconds = time_steps(step, steps)
    return tokens / seconds


def peak_rss(dataset: Path, run: Path, steps: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "melodyrnn", "train", str(dataset), "-o", str(run),
                    "--max-steps", str(steps), "--device", "cpu", "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(rss, before) / 1024, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("MELODYRNN_DATA", "../shared/data")) / "midi")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per contender and round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best counts)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ingest(args.data, tmp / "ds")
        vocab = len(json.loads((tmp / "ds" / "meta.json").read_text())["vocab"]["tokens"])
        ours = trainer(tmp / "ds", tmp / "run", kind="lstm", hidden=256, layers=2, embedding=128)
        plan = ours.epoch_plan(0)
        bare_rate = our_rate = 0.0
        for _ in range(args.rounds):  # interleaved rounds; the best of each counts
            bare_rate = max(bare_rate, bench_bare(tmp / "ds", plan, args.steps, vocab))
            our_rate = max(our_rate, bench_ours(ours, plan, args.steps))
        print(f"threads {torch.get_num_threads()}, batch 64 x 128, LSTM 2x256, "
              f"best of {args.rounds} rounds of {args.steps} steps")
        print(f"bare PyTorch loop           {bare_rate:10.0f} tokens/s")
        print(f"melodyrnn training step     {our_rate:10.0f} tokens/s")
        print(f"ratio melodyrnn / bare      {our_rate / bare_rate:10.2f}   (goal >= 0.9)")
        rates = {}
        for name, fused in (("fused RNN kernel", True), ("written-out Elman", False)):
            t = trainer(tmp / "ds", tmp / f"rnn{fused}", kind="rnn", hidden=256, layers=2,
                        embedding=128, fused=fused)
            rates[name] = bench_ours(t, t.epoch_plan(0), args.steps)
            print(f"Elman 2x256, {name:18} {rates[name]:10.0f} tokens/s")
        print(f"written-out / fused         {rates['written-out Elman'] / rates['fused RNN kernel']:10.2f}")
        rss, seconds = peak_rss(tmp / "ds", tmp / "rss", 30)
        print(f"peak RSS, melodyrnn train on the full dataset (30 steps + valid eval): "
              f"{rss:.0f} MB in {seconds:.0f} s   (goal < 1536 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
