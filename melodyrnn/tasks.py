"""Training and evaluation runs: the thin layer that joins encodings to the sequence core.

The core (:mod:`melodyrnn.trainer`, :mod:`melodyrnn.scoring`) knows only ids; here the
dataset's or checkpoint's encoding supplies what is specific to it: transposition for
augmentation, filler ids for event accuracy, and the way to turn MIDI files into ids.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint
from .dataset import SplitArrays, load_dataset
from .encodings.base import Encoding
from .encodings.registry import encoding_from_dict
from .ingest import discover
from .ingest_worker import Limits, read_input
from .midi_io import read_midi_batch
from .scoring import score_split
from .loading import load_model
from .text import encode_text_files
from .trainer import TrainConfig, fit, pick_device

__all__ = ["TransposeAugmenter", "train", "evaluate", "encode_files", "score_files"]


class TransposeAugmenter:
    """Shift each training sequence by a random number of semitones in ``-K..K``.

    The shift is drawn among those that keep every pitch of the sequence encodable.
    """

    def __init__(self, encoding: Encoding, max_shift: int) -> None:
        if encoding.pitch_span(np.zeros(0, np.int64)) is None:
            raise ValueError(f"--transpose: the {encoding.name} encoding has no pitches")
        self.encoding, self.max_shift = encoding, max_shift

    def choose(self, sequence: np.ndarray, rng: np.random.Generator) -> int:
        down, up = self.encoding.pitch_span(np.asarray(sequence, np.int64))
        low, high = max(-self.max_shift, down), min(self.max_shift, up)
        return int(rng.integers(low, high + 1)) if low <= high else 0

    def apply(self, ids: np.ndarray, variant: int) -> np.ndarray:
        return self.encoding.transpose_ids(ids, variant)


def train(dataset: str | os.PathLike, run_dir: str | os.PathLike, model: dict,
          cfg: TrainConfig, *, init_from: str | None = None, resume: bool = False,
          progress: bool = True) -> dict:
    """Train on a dataset folder made by ``melodyrnn ingest``; returns the best valid metrics."""
    meta = load_dataset(dataset).meta
    enc = encoding_from_dict(meta["encoding"])
    augmenter = TransposeAugmenter(enc, cfg.transpose) if cfg.transpose else None
    best = fit(dataset, run_dir, model, cfg, augmenter=augmenter, filler_ids=enc.filler_ids,
               init_from=init_from, resume=resume, progress=progress)
    return _text_names(best, enc) if enc.kind == "text" else best


def _text_names(metrics: dict, enc: Encoding) -> dict:
    """Metrics of a text model under their text names: its units are characters (tokens
    for a dataset built from token lists)."""
    unit = "token" if enc.name == "tokens" else "char"
    out = dict(metrics)
    if "bits_per_note" in out:
        bits, nats, units = out.pop("bits_per_note"), out.pop("nats_per_event"), out.pop("notes")
        out = {f"bits_per_{unit}": bits, "nats_per_token": nats, **out, f"{unit}s": units}
    return out


def encode_files(paths: list[str], encoding: Encoding, chunk: int = 512
                 ) -> tuple[SplitArrays, list[str], dict[str, str]]:
    """Encode MIDI files in memory: (sequences, the files used, failures by path)."""
    files = discover(paths)
    tokens, lengths, notes, bars, source, failures = [], [], [], [], [], {}
    for a in range(0, len(files), chunk):
        part = files[a:a + chunk]
        datas = []
        for path in part:
            digest, data = read_input(path, Limits())  # ingest's reader: caps, no FIFO hangs
            if digest is None:
                failures[path] = data
            datas.append(data if digest is not None else b"")
        read = read_midi_batch(datas)
        for path, failure in zip(part, read.failures):
            if failure is not None and path not in failures:
                failures[path] = str(failure)
        batch = encoding.encode_tunes(read.batch)
        tokens.append(batch.tokens)
        lengths.append(np.diff(batch.offsets))
        notes.append(batch.seq_notes)
        bars.append(batch.seq_bar_steps)
        source.append(batch.seq_tune + a)
    cat = (lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64))
    arrays = SplitArrays(cat(tokens), np.concatenate(([0], np.cumsum(cat(lengths)))),
                         cat(notes), cat(bars), cat(source))
    return arrays, files, failures


def encode_paths(paths: list[str], encoding: Encoding
                 ) -> tuple[SplitArrays, list[str], dict[str, str]]:
    """Files encoded in memory with ``encoding``: text files for a text encoding, else MIDI."""
    return (encode_text_files if encoding.kind == "text" else encode_files)(paths, encoding)


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
        arrays, files, failures = encode_paths(data, enc)
        for path, reason in failures.items():
            print(f"skipped {path}: {reason}", file=sys.stderr)
        extra["files"] = len(files)
        extra["skipped_files"] = len(failures)
    if arrays.n_sequences == 0:
        raise ValueError("nothing to evaluate: no sequences")
    split_by = enc.score_groups()
    sums, _ = score_split(model, arrays, batch_size=batch_size, filler_ids=enc.filler_ids,
                          device=dev, groups=split_by[0] if split_by else None)
    result = sums.result()
    if split_by:  # e.g. rhythm_bits_per_note + pitch_bits_per_note = bits_per_note
        result[f"{split_by[1][0]}_bits_per_note"] = result.pop("bits_per_note_groups")
        result[f"{split_by[1][1]}_bits_per_note"] = result.pop("bits_per_note_within")
    if enc.kind == "text":  # the dataset's units are characters
        result = _text_names(result, enc)
    return {**result, **extra}


def score_files(checkpoint: str, paths: list[str], *, device: str = "auto"
                ) -> list[tuple[str, float | None, str]]:
    """(path, bits/note or None, reason) of each MIDI file under the checkpoint's model."""
    model, enc = load_model(checkpoint)
    model.to(pick_device(device))
    arrays, files, failures = encode_paths(paths, enc)
    nats = np.zeros(0)
    if arrays.n_sequences:
        _, nats = score_split(model, arrays, filler_ids=enc.filler_ids,
                              device=next(model.parameters()).device)
    per_file_nats = np.bincount(arrays.source, weights=nats, minlength=len(files))
    per_file_notes = np.bincount(arrays.source, weights=arrays.notes, minlength=len(files))
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
    from dataclasses import asdict

    from . import __version__
    from .checkpoint import save_checkpoint

    save_checkpoint(path, {"melodyrnn_version": __version__, "model_config": asdict(model.config),
                           "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                           "encoding": encoding.to_dict(), "vocab": encoding.vocab.to_dict(),
                           "metrics": metrics or {}})


score = score_files
load = load_model
