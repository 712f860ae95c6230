"""Combine the dataset folders of ``melodyrnn ingest --shard i/n`` runs into one dataset."""

from __future__ import annotations

from pathlib import Path

from melodyrnn.core.dataset import SPLITS, SplitArrays, load_dataset, write_dataset
from melodyrnn.core.registry import encoding_from_dict

__all__ = ["merge_shards"]


def merge_shards(shard_dirs: list[str], output: str) -> dict:
    """Concatenate shard datasets (same encoding and split fractions) into ``output``.

    Sequences keep their split (it depends only on file content), so merging shards
    gives the dataset a single run over all inputs would have given, file order aside.

    Raises
    ------
    ValueError
        When a folder is not a dataset or the shards disagree on encoding or fractions.
    """
    if not shard_dirs:
        raise ValueError("nothing to merge")
    resolved = [Path(d).resolve() for d in shard_dirs]
    twice = next((d for i, d in enumerate(shard_dirs) if resolved[i] in resolved[:i]), None)
    if twice is not None:
        raise ValueError(f"{twice}: the same shard twice (its sequences would be doubled)")
    shards = [load_dataset(d, mmap=True) for d in shard_dirs]
    seen: dict[str, Path] = {}
    for ds in shards:
        for f in ds.meta.get("files", []):
            if f.get("status") == "ok":  # the same input file in two shards
                if f["path"] in seen and seen[f["path"]] != ds.path:
                    raise ValueError(f"{ds.path} and {seen[f['path']]} both hold {f['path']} "
                                     "(overlapping shards would double it)")
                seen[f["path"]] = ds.path
    first = shards[0].meta
    for ds in shards[1:]:
        for key in ("encoding", "split_fractions"):
            if ds.meta.get(key) != first.get(key):
                raise ValueError(f"{ds.path}: {key} differs from {shards[0].path}")
    report, shifts, files, counts = "", [], [], {}
    for ds in shards:
        shifts.append(len(files))
        report += (ds.path / "report.jsonl").read_text(encoding="utf-8")
        files += ds.meta.get("files", [])
        for k, v in ds.meta.get("counts", {}).items():
            counts[k] = counts.get(k, 0) + v
    splits = {s: SplitArrays.concat([ds.split(s) for ds in shards], shifts) for s in SPLITS}
    out = Path(output)
    stats: dict[str, int] = {}
    for ds in shards:
        for k, v in ds.meta.get("stats", {}).items():
            stats[k] = stats.get(k, 0) + v
    extra = {"counts": counts, "files": files,
             "split_fractions": first.get("split_fractions"), "shard": None,
             "limits": first.get("limits"), "stats": stats,
             "merged_from": [str(ds.path) for ds in shards]}
    return write_dataset(out, encoding_from_dict(first["encoding"]), splits, report=report, extra=extra)
