"""Sequence classification on datasets: labels from a CSV joined to the dataset's files.

``--labels FILE.csv:COLUMN`` names a CSV with one row per input file: its ``path`` column
(or ``file``, else the first column; relative to the CSV's folder) and the label in COLUMN.
Every sequence takes the label of the file it came from; sequences of unlabelled files are
left out and counted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint
from melodyrnn.core.inputs import read_guarded
from melodyrnn.core.classifier import ClassifyConfig, confusion, fit_classifier, predict_proba, take
from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.core.models import ModelConfig

__all__ = ["read_labels", "train_classifier", "classify_files", "evaluate_classifier"]


def read_labels(spec: str) -> dict[str, str]:
    """``FILE.csv:COLUMN`` -> {resolved file path: label}."""
    file, _, column = str(spec).rpartition(":")
    if not file or not column:
        raise ValueError(f"--labels {spec!r}: expected FILE.csv:COLUMN")
    try:
        rows = list(csv.DictReader(io.StringIO(read_guarded(file, 64 << 20).decode("utf-8"), newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"cannot read labels from {file}: {e}") from None
    fields = list(rows[0]) if rows else []
    if column not in fields:
        raise ValueError(f"{file}: no column {column!r} (columns: {', '.join(fields)})")
    key = next((k for k in ("path", "file") if k in fields), fields[0])
    base = Path(file).parent
    return {os.path.realpath(base / r[key]): r[column] for r in rows if r[column] != ""}


def _labelled(ds, split: str, labels: dict[str, str]):
    """(sequence indices with a label, their label strings, count left out)."""
    arrays = ds.split(split)
    paths = [os.path.realpath(f["path"]) for f in ds.meta["files"]]
    names = [labels.get(paths[int(s)]) for s in arrays.source]
    keep = np.array([i for i, n in enumerate(names) if n is not None], np.int64)
    return keep, [names[i] for i in keep], arrays.n_sequences - len(keep)


def _split_data(ds, split, labels, classes):
    keep, names, missing = _labelled(ds, split, labels)
    known = np.array([n in classes for n in names], bool)
    ids = np.array([classes.index(n) for n, k in zip(names, known) if k], np.int64)
    return take(ds.split(split), keep[known]), ids, missing + int((~known).sum())


def train_classifier(dataset: str | os.PathLike, run_dir: str | os.PathLike, labels: str,
                     model: dict, cfg: ClassifyConfig | None = None,
                     progress: bool = True) -> dict:
    """Train a sequence classifier; returns valid and test accuracy, the test confusion
    matrix and the majority-class baseline (also written to ``run_dir/test.json``)."""
    ds = load_dataset(dataset)
    mapping = read_labels(labels)
    _, train_names, _ = _labelled(ds, "train", mapping)
    if not train_names:
        raise ValueError(f"no training sequence has a label in {labels}")
    classes = sorted(set(train_names))
    data = {s: _split_data(ds, s, mapping, classes) for s in ("train", "valid", "test")}
    for split, (_, _, missing) in data.items():
        if missing:
            print(f"{split}: {missing} sequences without a known label left out", file=sys.stderr)
    config = ModelConfig(vocab_size=len(ds.meta["vocab"]["tokens"]), num_classes=len(classes),
                         **model)
    extra = {"encoding": ds.meta["encoding"], "vocab": ds.meta["vocab"], "labels": str(labels)}
    best = fit_classifier(run_dir, config, classes, data["train"][:2], data["valid"][:2],
                          cfg or ClassifyConfig(), extra, progress)
    result = {"valid": best, "classes": classes,
              **evaluate_classifier(str(Path(run_dir) / "best.pt"), dataset, "test", labels)}
    (Path(run_dir) / "test.json").write_text(json.dumps(result, indent=1))
    return result


def evaluate_classifier(checkpoint: str, dataset: str | os.PathLike, split: str = "test",
                        labels: str | None = None) -> dict:
    """Accuracy, confusion matrix (rows: true) and the majority-class baseline on a split."""
    ckpt = load_checkpoint(checkpoint)
    classes = ckpt["classes"]
    ds = load_dataset(dataset)
    mapping = read_labels(labels or ckpt["labels"])
    arrays, truth, _ = _split_data(ds, split, mapping, classes)
    if not len(truth):
        raise ValueError(f"no labelled sequence in the {split} split")
    pred = predict_proba(model_from_checkpoint(ckpt), arrays,
                         ckpt["classify_config"]["max_len"]).argmax(axis=1)
    # the class most frequent in training (counted from the labels; no sequences copied)
    train_counts = Counter(n for n in _labelled(ds, "train", mapping)[1] if n in classes)
    majority = classes.index(max(train_counts, key=train_counts.get))
    return {"split": split, "sequences": int(len(truth)),
            "accuracy": float((pred == truth).mean()),
            "majority_class": classes[majority],
            "majority_accuracy": float((truth == majority).mean()),
            "confusion": confusion(truth, pred, len(classes)).tolist()}


def classify_files(checkpoint: str, paths: list[str]) -> list[tuple[str, str | None, float, str]]:
    """(path, label or None, probability, reason) per input file; a file with several
    sequences (melodies) gets the class of their mean probabilities."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("task") != "classify":
        raise ValueError(f"{checkpoint} is not a classifier (train it with --task classify)")
    enc = encoding_from_dict(ckpt["encoding"])
    arrays, files, failures = enc.encode_files(paths)
    probs = (predict_proba(model_from_checkpoint(ckpt), arrays, ckpt["classify_config"]["max_len"])
             if arrays.n_sequences else np.zeros((0, len(ckpt["classes"]))))
    out = []
    for i, path in enumerate(files):
        rows = probs[arrays.source == i]
        if path in failures or not len(rows):
            out.append((path, None, 0.0, failures.get(path, "no sequence to classify")))
            continue
        mean = rows.mean(axis=0)
        out.append((path, ckpt["classes"][int(mean.argmax())], float(mean.max()), ""))
    return out
