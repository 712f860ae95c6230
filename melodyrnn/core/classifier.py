"""Many-to-one training: a class for each whole sequence, from ids and integer labels.

The loss is ``-ln p(correct class)`` of the classification head on the output at each
sequence's last real token (the first ``max_len`` tokens are read). Like the next-token
trainer it knows no files or music: sequences come as :class:`SplitArrays`, labels as ints.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from melodyrnn.core.checkpoint import payload, save_checkpoint
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.models import ModelConfig, SequenceModel
from melodyrnn.core.trainer import pick_device
from melodyrnn.core.vocab import PAD

__all__ = ["ClassifyConfig", "fit_classifier", "predict_proba", "confusion", "take"]


@dataclass(frozen=True)
class ClassifyConfig:
    """Settings of ``melodyrnn train --task classify``.

    Parameters
    ----------
    batch_size : int
        Sequences per step.
    max_len : int
        Tokens read from the start of each sequence.
    lr, weight_decay : float
        AdamW settings (cosine decay over all steps).
    epochs, patience : int
        Passes over the training split; stop after ``patience`` epochs without a better
        valid loss (0: never).
    seed : int
        Seeds initialisation, order and dropout.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``mps``.
    """

    batch_size: int = 64
    max_len: int = 512
    lr: float = 2e-3
    weight_decay: float = 0.01
    epochs: int = 10
    patience: int = 3
    seed: int = 0
    device: str = "auto"


def _batch(arrays: SplitArrays, index: np.ndarray, max_len: int, device) -> torch.Tensor:
    """Ids (B, T) of sequences ``index``, cut to ``max_len`` and right-padded with PAD."""
    seqs = [np.asarray(arrays.sequence(int(i)))[:max_len] for i in index]
    out = np.full((len(seqs), max(len(s) for s in seqs)), PAD, np.int64)
    for row, s in enumerate(seqs):
        out[row, :len(s)] = s
    return torch.from_numpy(out).to(device)


@torch.no_grad()
def predict_proba(model: SequenceModel, arrays: SplitArrays, max_len: int = 512,
                  batch_size: int = 64) -> np.ndarray:
    """Class probabilities (N, C) of every sequence of ``arrays``."""
    model.eval()
    device = next(model.parameters()).device
    out = [torch.softmax(model.classify(_batch(arrays, idx, max_len, device)).float(), -1).cpu()
           for idx in np.array_split(np.arange(arrays.n_sequences),
                                     max(1, math.ceil(arrays.n_sequences / batch_size)))
           if len(idx)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.num_classes))


def confusion(true: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """(n, n) counts: row = true class, column = predicted class."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def _scores(model, arrays, labels, cfg) -> dict:
    probs = predict_proba(model, arrays, cfg.max_len)
    nll = -np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12))
    pred = probs.argmax(axis=1)
    return {"loss": float(nll.mean()), "accuracy": float((pred == labels).mean()),
            "sequences": int(len(labels))}


def fit_classifier(run_dir: str | Path, model_config: ModelConfig, classes: list[str],
                   train: tuple[SplitArrays, np.ndarray], valid: tuple[SplitArrays, np.ndarray],
                   cfg: ClassifyConfig, extra: dict, progress: bool = True) -> dict:
    """Train the head and the network on ``train`` (sequences, labels); keep the best on
    ``valid`` in ``run_dir/best.pt`` with the classes and ``extra`` (encoding, vocabulary).
    Returns the best valid scores."""
    from tqdm import tqdm

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = SequenceModel(model_config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    arrays, labels = train
    steps_per_epoch = math.ceil(arrays.n_sequences / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps_per_epoch * cfg.epochs))
    rng = np.random.default_rng(cfg.seed)
    best, bad = None, 0
    for epoch in range(cfg.epochs):
        model.train()
        order = rng.permutation(arrays.n_sequences)
        for a in tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}", leave=False,
                      disable=not progress or None):
            idx = order[a:a + cfg.batch_size]
            target = torch.from_numpy(labels[idx]).to(device)
            loss = torch.nn.functional.cross_entropy(
                model.classify(_batch(arrays, idx, cfg.max_len, device)), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
        scores = _scores(model, *valid, cfg)
        line = {"epoch": epoch, "valid": scores}
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        print(f"epoch {epoch}: valid loss {scores['loss']:.4f}, accuracy {scores['accuracy']:.3f}",
              file=sys.stderr, flush=True)
        if best is None or scores["loss"] < best["loss"]:
            best, bad = scores, 0
            save_checkpoint(run_dir / "best.pt", payload(
                model, scores, task="classify", classes=list(classes), classify_config=asdict(cfg),
                **extra))
        else:
            bad += 1
            if cfg.patience and bad >= cfg.patience:
                break
    return best


def take(arrays: SplitArrays, index: np.ndarray) -> SplitArrays:
    """The sequences ``index`` of ``arrays``, as a new SplitArrays."""
    return SplitArrays.from_sequences([np.asarray(arrays.sequence(int(i))) for i in index],
                                      arrays.units[index], arrays.source[index],
                                      arrays.bar_steps[index])
