"""What ``train --resume`` relies on besides the saved state: the run's network checked against
the options given, checkpoints pickled from canonical values (so a resumed run writes the
bytes an unbroken one writes) and the metrics log cut back to the checkpoint's step."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from melodyrnn.core.models import ModelConfig

__all__ = ["canonical", "check_same_network", "logged_by"]


def check_same_network(saved: dict, given: dict, path: Path) -> None:
    """ValueError naming the first of ``given``'s network settings that differs from the
    run's own (``--resume`` goes on with the network it started)."""
    def plain(v):
        return list(v) if isinstance(v, (list, tuple)) else v

    saved = asdict(ModelConfig.from_dict(saved))  # form head settings written flat before 0.2 too
    if "form" in given:  # the form head's fields given one by one, the others the run's
        given = {**given, "form": {**saved["form"], **given["form"]}}
    merged = asdict(ModelConfig.from_dict({**saved, **given}))
    for name in given:
        if plain(merged.get(name)) != plain(saved.get(name)):
            raise ValueError(f"--resume: {name} = {given[name]!r} differs from {saved.get(name)!r} in "
                             f"{path} (resume with the run's own network settings, or start a new run)")


def canonical(value):
    """``value`` rebuilt with fresh containers and interned strings, so that its pickle is a
    function of its values alone: pickle writes an object met twice as a back-reference,
    and a resumed run's optimizer keys (read from last.pt) are other string objects than an
    unbroken run's; with this, both write the same bytes."""
    if isinstance(value, dict):
        return {canonical(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(canonical(v) for v in value)
    return sys.intern(value) if type(value) is str else value


def logged_by(line: str, step: int) -> bool:
    """Whether a metrics.jsonl line is a whole record logged at or before ``step``."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and record.get("step", 0) <= step
