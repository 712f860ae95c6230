"""``melodyrnn pipeline run FILE.toml``: ingest -> train -> calibrate -> generate -> evaluate -> report.

A pipeline file has a ``[pipeline]`` table (``name``, ``run_dir``, ``seed``) and one table per
stage it runs, whose keys are the options of the matching command (``[train] lookback_bars =
[1, 2, 4, 8]`` is ``melodyrnn train --lookback-bars 1,2,4,8``; ``[calibrate]`` takes
``calibrate-form``'s). ``${VAR}`` in strings expands from the environment, so data paths can
read ``${MELODYRNN_DATA}``. ``ran_at = "COMMIT"`` in ``[pipeline]`` marks an experiment that
did not ship, whose options were deleted since: it is refused, naming the commit to rerun it at.

Model stages (``train``, ``calibrate``) may come more than once, named ``[train-LABEL]``: they
run in the file's order, after ingest and before generate (the other kinds in the order
above). ``init_from = "@NAME"`` fine-tunes the model of the earlier stage ``[NAME]``; a
calibrate stage refits the model of the model stage before it, and generate and evaluate take
the last one (``pipelines/default.toml`` rebuilds the shipped default so: network, form head,
its refit, its bias).

Each stage writes into ``RUN/<stage>-<key>/``, where the key hashes the stage's settings as
written, the keys of the stages it reads and (for ingest and seeds) the content of its input
files, so a run folder copied to another machine with the same data stays cached. A
finished stage holds ``stage.json``, written last and atomically: re-running skips it, a
changed setting gives a new key for that stage and those after it, and a killed stage runs
again in its folder, resuming (ingest's cache, training's ``last.pt``, generated files that
exist). ``RUN/pipeline.json`` names the current folder of each stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path

from melodyrnn.core.atomic import atomic_write_text
from melodyrnn.core.inputs import MAX_INPUT_BYTES, read_guarded
from melodyrnn.core.registry import encoding_class
from melodyrnn.music.ingest.files import discover
from melodyrnn.pipeline.stages import RUNNERS, check_stage, kind_of, model_file, seed_inputs

__all__ = ["STAGES", "Pipeline", "PlannedStage", "load_pipeline", "plan", "run_pipeline", "kind_of"]

STAGES = ("ingest", "train", "calibrate", "generate", "evaluate", "report")  # the kinds, in run order
MODEL_STAGES = ("train", "calibrate")  # the kinds that make a model; they may come more than once
NEEDS = {"ingest": (), "train": ("ingest",), "calibrate": ("ingest", "model"), "generate": ("model",),
         "evaluate": ("ingest", "model"), "report": ()}
_TABLE = re.compile(rf"({'|'.join(STAGES)})(-[a-z0-9_]{{1,40}})?")


def _rank(name: str) -> int:
    """Run order: by kind, the model stages (train, calibrate) together in the file's order."""
    kind = kind_of(name)
    return STAGES.index(MODEL_STAGES[0] if kind in MODEL_STAGES else kind)
_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline file: its name, text, run folder, seed and stage settings."""

    name: str
    path: Path
    text: str
    run_dir: Path
    seed: int
    stages: dict
    raw: dict  # the stage tables as written (``${VAR}`` unexpanded): what keys hash


@dataclass(frozen=True)
class PlannedStage:
    name: str
    key: str
    folder: Path
    cached: bool


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _expand(value, where: str):
    if isinstance(value, str):
        def var(m):
            if m.group(1) not in os.environ:
                raise ValueError(f"{where}: ${{{m.group(1)}}} is not set in the environment")
            return os.environ[m.group(1)]
        return _VAR.sub(var, value)
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}") for k, v in value.items()}
    return value


def load_pipeline(path: str | os.PathLike, run_dir: str | None = None,
                  seed: int | None = None) -> Pipeline:
    """Read and check a pipeline file; ``run_dir`` and ``seed`` override its own."""
    path = Path(path)
    try:
        text = read_guarded(path, 1 << 20).decode("utf-8")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    unknown = sorted(t for t in raw if t != "pipeline" and not _TABLE.fullmatch(t))
    if unknown:
        raise ValueError(f"{path}: unknown table [{unknown[0]}]; stages are {', '.join(STAGES)} "
                         f"(model stages also as [{MODEL_STAGES[0]}-LABEL])")
    twice = next((t for t in raw if t != kind_of(t) and kind_of(t) not in MODEL_STAGES), None)
    if twice is not None:
        raise ValueError(f"{path}: [{twice}]: only model stages ({', '.join(MODEL_STAGES)}) take a label")
    bad = next((t for t in raw if not isinstance(raw[t], dict)), None)
    if bad is not None:
        raise ValueError(f"{path}: {bad} must be a table ([{bad}]), not a value")
    top = raw.get("pipeline", {})
    if isinstance(top.get("ran_at"), str):  # an experiment whose options left the product
        raise ValueError(f"{path}: this recipe ran at commit {top['ran_at']} and needs options that are "
                         f"gone since; rerun it there (git checkout {top['ran_at']})")
    name = top.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{path}: name = {name!r}: use letters, digits, '.', '_' and '-' "
                         "(the run folder is runs/NAME)")
    if not isinstance(top.get("seed", 0), int) or not isinstance(top.get("run_dir", ""), str):
        raise ValueError(f"{path}: [pipeline] seed must be an integer and run_dir a string")
    order = sorted((t for t in raw if t != "pipeline"), key=_rank)
    stages = {s: _expand(dict(raw[s]), f"[{s}]") for s in order}
    if not stages:
        raise ValueError(f"{path}: no stage tables ({', '.join(f'[{s}]' for s in STAGES)})")
    for i, (stage, settings) in enumerate(stages.items()):
        _check_order(path, stage, settings, order[:i])
    return Pipeline(name, path, text, Path(run_dir or _expand(top.get("run_dir", f"runs/{name}"),
                                                                "run_dir")),
                    int(top.get("seed", 0) if seed is None else seed), stages,
                    {s: raw[s] for s in stages})


def _check_order(path: Path, stage: str, settings: dict, before: list[str]) -> None:
    """``ValueError`` unless ``stage``'s settings are its command's and the stages it reads
    (``before`` it, in run order) are there."""
    check_stage(kind_of(stage), settings, stage)
    kinds = {kind_of(s) for s in before}
    missing = [n for n in NEEDS[kind_of(stage)] if n not in kinds and not (
        n == "model" and (kinds & set(MODEL_STAGES) or "model" in settings))]
    if missing:
        what = "model stage ([train])" if missing[0] == "model" else f"[{missing[0]}] stage"
        raise ValueError(f"{path}: [{stage}] needs a {what} before it")
    ref = settings.get("init_from", "")
    if isinstance(ref, str) and ref.startswith("@") and not (
            ref[1:] in before and kind_of(ref[1:]) in MODEL_STAGES):
        raise ValueError(f"{path}: [{stage}] init_from = {ref!r}: no model stage [{ref[1:]}] before it")


def _files_digest(inputs: list[str], max_bytes: int = MAX_INPUT_BYTES, find=discover) -> str:
    """Hash of the bytes of every file ``find`` reads under ``inputs`` (MIDI files, or an
    encoding's own: text files for text encodings), with paths relative to each input; a
    file that is not a regular file of at most ``max_bytes`` counts as unreadable."""
    h = hashlib.sha256()
    for root in inputs:
        base = Path(root)
        for f in find([root]):
            rel = os.path.relpath(f, base) if base.is_dir() else base.name
            h.update(os.fsencode(rel) + b"\0")
            try:
                h.update(hashlib.sha256(read_guarded(f, max_bytes)).digest())
            except (OSError, ValueError):
                h.update(b"unreadable")
    return h.hexdigest()


def _content(stage: str, settings: dict) -> str | None:
    if stage == "ingest":
        mb = settings.get("max_file_mb", MAX_INPUT_BYTES / 2 ** 20)
        find = encoding_class(settings.get("encoding", "melody")).find_files
        return _files_digest(seed_inputs(settings.get("inputs", [])), int(mb * 2 ** 20), find)
    if stage == "generate" and settings.get("seeds"):
        return _files_digest(seed_inputs(settings["seeds"]))
    if stage == "train" and settings.get("init_from", "@")[:1] != "@":  # the checkpoint fine-tuned
        from melodyrnn.core.checkpoint import resolve_checkpoint

        try:
            data = read_guarded(resolve_checkpoint(settings["init_from"]), 1 << 31)
            return hashlib.sha256(data).hexdigest()
        except (OSError, ValueError):
            return "unreadable"
    return None


def plan(p: Pipeline, force: str | None = None) -> list[PlannedStage]:
    """Each declared stage with its key, folder and whether it is already finished."""
    if force is not None and force not in p.stages:
        raise ValueError(f"--force {force}: this pipeline has no such stage "
                         f"({', '.join(p.stages)})")
    keys: dict[str, str] = {}
    out, forced = [], False
    for stage, settings in p.stages.items():
        upstream = dict(keys)  # every stage before it in run order
        # settings as written, so that a run folder keeps its keys on a machine whose
        # ${MELODYRNN_DATA} is elsewhere; the files' content stands for the paths
        blob = json.dumps({"stage": stage, "settings": p.raw[stage], "seed": p.seed,
                           "upstream": upstream, "content": _content(kind_of(stage), settings)},
                          sort_keys=True, default=str)
        keys[stage] = hashlib.sha256(blob.encode()).hexdigest()[:12]
        folder = p.run_dir / f"{stage}-{keys[stage]}"
        forced = forced or stage == force
        out.append(PlannedStage(stage, keys[stage], folder,
                                (folder / "stage.json").is_file() and not forced))
    return out


def run_pipeline(p: Pipeline, *, dry_run: bool = False, force: str | None = None,
                 log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Run the stages that are not finished; returns ``{stage: summary}``."""
    steps = plan(p, force)
    if dry_run:
        for s in steps:
            print(f"{s.name:15} {s.key}  {'cached' if s.cached else 'to run':7}  {s.folder}")
        return {}
    p.run_dir.mkdir(parents=True, exist_ok=True)
    folders = {s.name: s.folder for s in steps}
    summaries = {}
    for s in steps:
        if s.cached:
            summaries[s.name] = json.loads((s.folder / "stage.json").read_text())["summary"]
            log(f"{s.name}: cached ({s.folder})")
            continue
        if s.name == force and s.folder.exists():
            shutil.rmtree(s.folder)
        s.folder.mkdir(parents=True, exist_ok=True)
        log(f"{s.name}: running in {s.folder}")
        runner = RUNNERS[kind_of(s.name)]
        summary = runner(s.folder, dict(p.stages[s.name]), p, _with_model(steps, s, folders))
        atomic_write_text(s.folder / "stage.json", json.dumps(
            {"stage": s.name, "key": s.key, "settings": p.stages[s.name], "summary": summary},
            indent=1, default=str))
        summaries[s.name] = summary
        atomic_write_text(p.run_dir / "pipeline.json", json.dumps(
            {"name": p.name, "stages": {n: str(f) for n, f in folders.items()}}, indent=1))
    return summaries


def _with_model(steps: list[PlannedStage], current: PlannedStage, folders: dict) -> dict:
    """``folders`` with ``"@model"``, the model file of the last model stage before ``current``."""
    made = [s for s in steps[:steps.index(current)] if kind_of(s.name) in MODEL_STAGES]
    if not made:
        return dict(folders)
    return {**folders, "@model": model_file(made[-1].name, folders)}
