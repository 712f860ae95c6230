"""Training and evaluation runs: where an encoding meets the ids-only trainer and scorer.

The dataset's or checkpoint's encoding supplies what is specific to it through the generic
:class:`~melodyrnn.core.encoding.Encoding` interface: its augmenter (music: transposition),
filler ids for event accuracy, the unit metrics count (bits/note, bits/char) and the way to
turn files into ids. Nothing here knows whether that is music or text.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from melodyrnn.core.checkpoint import load_checkpoint, payload, save_checkpoint
from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.encoding import Encoding
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.core.scoring import score_split
from melodyrnn.core.loading import load_model
from melodyrnn.core.trainer import TrainConfig, fit, pick_device

__all__ = ["train", "evaluate", "score_files", "save", "load", "score"]


def train(dataset: str | os.PathLike, run_dir: str | os.PathLike, model: dict,
          cfg: TrainConfig, *, init_from: str | None = None, resume: bool = False,
          progress: bool = True) -> dict:
    """Train on a dataset folder made by ``melodyrnn ingest``; returns the best valid metrics."""
    meta = load_dataset(dataset).meta
    enc = encoding_from_dict(meta["encoding"])
    return fit(dataset, run_dir, model, cfg, augmenter=enc.augmenter(**cfg.augment),
               filler_ids=enc.filler_ids, units=(enc.unit, enc.step), init_from=init_from,
               resume=resume, progress=progress)


def evaluate(checkpoint: str, data: list[str], *, split: str = "test", batch_size: int = 64,
             device: str = "auto") -> dict:
    """Held-out metrics of a checkpoint on a dataset split or on MIDI files/folders.

    Returns a dict with ``bits_per_note``, ``nats_per_event``, ``perplexity``,
    ``accuracy``, ``event_accuracy``, ``notes``, ``sequences`` and ``tokens``.
    """
    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("task") == "classify":
        raise ValueError(f"{checkpoint} is a sequence classifier: its test scores are in its run "
                         "folder's test.json; `melodyrnn classify` labels files")
    model, enc = load_model(ckpt)
    dev = pick_device(device)
    model.to(dev)
    extra: dict = {}
    if len(data) == 1 and (Path(data[0]) / "meta.json").is_file():
        ds = load_dataset(data[0])
        if ckpt.get("vocab") and ds.meta["vocab"] != ckpt["vocab"]:
            raise ValueError(f"{data[0]}: its vocabulary differs from the checkpoint's; "
                             "pass MIDI files to encode them with the checkpoint's encoding")
        arrays = ds.split(split)
        extra["split"] = split
    else:
        arrays, files, failures = enc.encode_files(data)
        for path, reason in failures.items():
            print(f"skipped {path}: {reason}", file=sys.stderr)
        extra["files"] = len(files)
        extra["skipped_files"] = len(failures)
    if arrays.n_sequences == 0:
        raise ValueError("nothing to evaluate: no sequences")
    split_by = enc.score_groups()
    sums, _ = score_split(model, arrays, batch_size=batch_size, filler_ids=enc.filler_ids,
                          device=dev, groups=split_by[0] if split_by else None)
    result = sums.result(enc.unit, enc.step)
    if split_by:  # e.g. rhythm_bits_per_note + pitch_bits_per_note = bits_per_note
        bits = f"bits_per_{enc.unit}"
        result[f"{split_by[1][0]}_{bits}"] = result.pop(f"{bits}_groups")
        result[f"{split_by[1][1]}_{bits}"] = result.pop(f"{bits}_within")
    return {**result, **extra}


def score_files(checkpoint: str, paths: list[str], *, device: str = "auto"
                ) -> list[tuple[str, float | None, str]]:
    """(path, bits/note or None, reason) of each MIDI file under the checkpoint's model."""
    model, enc = load_model(checkpoint)
    model.to(pick_device(device))
    arrays, files, failures = enc.encode_files(paths)
    nats = np.zeros(0)
    if arrays.n_sequences:
        _, nats = score_split(model, arrays, filler_ids=enc.filler_ids,
                              device=next(model.parameters()).device)
    per_file_nats = np.bincount(arrays.source, weights=nats, minlength=len(files))
    per_file_notes = np.bincount(arrays.source, weights=arrays.units, minlength=len(files))
    out = []
    for i, path in enumerate(files):
        if path in failures:
            out.append((path, None, failures[path]))
        elif per_file_notes[i] == 0:
            out.append((path, None, "no melody to score"))
        else:
            out.append((path, float(per_file_nats[i] / np.log(2) / per_file_notes[i]), ""))
    return out


def save(path: str | os.PathLike, model, encoding: Encoding, metrics: dict | None = None) -> None:
    """Write ``model`` with its config and ``encoding`` as a checkpoint (weights and plain
    data only) that :func:`load`, ``melodyrnn generate`` and ``evaluate`` read."""
    save_checkpoint(path, payload(model, metrics, encoding=encoding.to_dict(),
                                  vocab=encoding.vocab.to_dict()))


score = score_files
load = load_model
