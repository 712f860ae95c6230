"""The stages of a pipeline, each ``(folder, settings, pipeline, folders) -> summary dict``;
``folders`` names each stage's folder, and ``"@model"`` the model file of the last model stage
before this one (:data:`MODEL_FILES`).

Every stage calls the public library functions with the settings of its table (checked by
:func:`check_stage` when the pipeline file is loaded, before anything runs); it writes
only into its own folder, atomically, and picks up what an interrupted run left there.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import math
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from melodyrnn.core.atomic import atomic_write_bytes, atomic_write_text
from melodyrnn.core.dataset import load_dataset
from melodyrnn.music.ingest.files import discover
from melodyrnn.music.ingest.build import run_ingest
from melodyrnn.core.models import ModelConfig
from melodyrnn.music.sample_eval import evaluate_samples, markdown_table
from melodyrnn.settings import (calibrate_config, check_options, generate_config, ingest, ingest_config,
                                named_model, train_configs)
from melodyrnn.core.tasks import evaluate, train
from melodyrnn.pipeline.report import nats

__all__ = ["RUNNERS", "MODEL_FILES", "kind_of", "model_file",
           "check_stage", "ingest_stage", "train_stage", "calibrate_stage",
           "generate_stage", "evaluate_stage"]

MODEL_FILES = {"train": "best.pt", "calibrate": "model.pt"}  # the model a model stage leaves


def kind_of(name: str) -> str:
    """The stage kind of a table name (``train-head`` -> ``train``)."""
    return name.split("-", 1)[0]


def model_file(name: str, folders: dict) -> Path:
    """The model file model stage ``name`` leaves in its folder."""
    return folders[name] / MODEL_FILES[kind_of(name)]


# the settings each stage takes beside its command's options: (type, least value or None)
EXTRA = {"ingest": {"inputs": ((str, list), None), "shards": (int, 1)},
         "train": {"nproc": (int, 1), "init_from": (str, None)},
         "calibrate": {},
         "generate": {"seeds": ((str, list), None), "unprimed": (int, 0), "prompts": (list, None),
                      "render": (list, None), "workers": (int, 0), "model": (str, None)},
         "evaluate": {"split": (str, None), "copy_threshold": ((int, float), 0), "max_pieces": (int, 1),
                      "continuations": (bool, None), "primer_bars": (int, 1),
                      "continuation_bars": (int, 1)},
         "report": {"audio": (bool, None)}}


def check_stage(stage: str, settings: dict, name: str | None = None) -> None:
    """``ValueError`` for a setting the stage (of kind ``stage``, its table ``[name]``) does not
    know, of the wrong type or out of range (before anything runs: the stage's configs are
    built from the settings)."""
    table = name or stage
    fn = {"ingest": ingest_config, "train": train_configs, "generate": generate_config,
          "calibrate": calibrate_config}.get(stage)
    rest = {k: v for k, v in settings.items() if k not in EXTRA[stage]}
    if fn is not None:
        check_options(fn, rest, f"[{table}]")
    elif rest:
        raise ValueError(f"[{table}]: unknown option {sorted(rest)[0]!r}; valid: "
                         f"{', '.join(sorted(EXTRA[stage]))}")
    for name in settings.keys() & EXTRA[stage].keys():
        kind, least = EXTRA[stage][name]
        value = settings[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool) or (
                least is not None and value < least):
            raise ValueError(f"[{table}]: {name} = {value!r} is not a valid setting")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ValueError(f"[{table}]: {name} must be a list of strings")
    _check_sources(stage, settings)
    try:
        if stage == "ingest":
            ingest_config(["-"], "-", **rest)
        elif stage == "train":
            model, _ = train_configs(**rest)
            if "init_from" not in settings:  # else the checkpoint's network, checked when loaded
                ModelConfig.from_dict({"vocab_size": 1, **model})
        elif stage == "generate":
            generate_config(**rest)
    except (TypeError, ValueError) as e:
        raise ValueError(f"[{stage}]: {str(e).splitlines()[0]}") from None


def _check_sources(stage: str, settings: dict) -> None:
    """What ingest and generate read must be named (checked at load, so ``--dry-run``
    refuses what a run would)."""
    if stage == "ingest" and not any(seed_inputs(settings.get("inputs", []))):
        raise ValueError("[ingest] needs inputs = [files or folders]")
    if stage == "generate" and not (settings.get("seeds") or settings.get("unprimed")
                                    or settings.get("prompts")):
        raise ValueError("[generate] needs seeds = FOLDER or unprimed = N")


def seed_inputs(seeds) -> list[str]:
    """``[generate] seeds`` or ``[ingest] inputs``: one file or folder, or a list of them."""
    return [str(s) for s in (seeds if isinstance(seeds, list) else [seeds])]


def _data(folders: dict) -> Path:
    return folders["ingest"] / "data"


def ingest_stage(folder: Path, settings: dict, p, folders: dict) -> dict:
    inputs = seed_inputs(settings.pop("inputs", []))  # one folder, not its characters
    shards = int(settings.pop("shards", 1))
    if shards > 1:  # each shard as `melodyrnn ingest --shard i/n` would make it, then merged
        from melodyrnn.core.shards import merge_shards

        parts = [str(folder / f"shard-{i}") for i in range(shards)]
        files, status = 0, collections.Counter()
        for i, part in enumerate(parts):
            report = run_ingest(ingest_config(inputs, part, **{**settings, "shard": (i, shards)}))
            files, status = files + report.files, status + collections.Counter(dict(report.status))
        meta = merge_shards(parts, str(folder / "data"))
        if not any(v["sequences"] for v in meta["splits"].values()):
            raise ValueError("[ingest]: nothing could be ingested (see the shards' report.jsonl)")
        return {"files": files, **status, "splits": meta["splits"], "shards": shards}
    result = ingest(ingest_config(inputs, str(folder / "data"), **settings))
    if result.exit_code:
        raise ValueError("[ingest]: nothing could be ingested (see its report.jsonl)")
    return result.summary


def _cli_args(settings: dict) -> list[str]:
    """Settings back to ``melodyrnn train`` options, for a torchrun launch."""
    args = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False:
            args += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return args


def train_stage(folder: Path, settings: dict, p, folders: dict) -> dict:
    nproc = int(settings.pop("nproc", 1))
    init_from = settings.pop("init_from", None)
    if init_from and init_from.startswith("@"):  # an earlier model stage's model
        init_from = str(model_file(init_from[1:], folders))
    settings.setdefault("seed", p.seed)
    model, cfg = train_configs(**settings)
    resume = (folder / "last.pt").is_file()
    if resume:  # what the table names must match the run's; the rest is the run's (or its base's)
        model = named_model(model, settings)
    if nproc > 1:  # DistributedDataParallel, one process per device or CPU share
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "-m", "melodyrnn", "train", str(_data(folders)), "-o", str(folder), "-q",
               *_cli_args(settings), *(["--resume"] if resume else []),
               *([f"--init-from={init_from}"] if init_from else [])]
        if subprocess.run(cmd).returncode:
            raise ValueError("[train]: torchrun failed (its output is above)")
        evals = [json.loads(line)["valid"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
        best = min(evals, key=nats)
    else:
        best = train(_data(folders), folder, model, cfg, init_from=init_from, resume=resume)
    return {"best_valid": best}


def calibrate_stage(folder: Path, settings: dict, p, folders: dict) -> dict:
    """``melodyrnn calibrate-form`` on the model of the model stage before it; leaves model.pt."""
    from melodyrnn.music.form_calibration import calibrate

    settings.setdefault("seed", p.seed)
    report = calibrate(str(folders["@model"]), _data(folders), folder / MODEL_FILES["calibrate"],
                       calibrate_config(**settings))
    atomic_write_text(folder / "calibrate.json", json.dumps(report, indent=1))
    return {k: report[k] for k in ("valid_before", "valid_after") if k in report} | (
        {"new_bias": report["held_out_bias"]["new_bias"]} if "held_out_bias" in report else {})


def _generate_one(job: tuple) -> dict:
    """One seed (or the unprimed samples): write its outputs; skip those already written."""
    import torch

    from melodyrnn.music.compose import generate
    from melodyrnn.music.midi_io import read_midi
    from melodyrnn.music.outputs import write_outputs

    torch.set_num_threads(1)
    checkpoint, seed_path, stem, cfg, folder, render = job
    done = Path(folder) / f".{stem}.json"
    if done.is_file():
        return json.loads(done.read_text())
    try:
        seed = read_midi(seed_path) if seed_path else None
        results = generate(checkpoint, seed, None, cfg)
    except (ValueError, OSError) as e:
        return {"seed": seed_path or "(none)", "status": "skipped",
                "reason": str(e).splitlines()[0] if str(e) else type(e).__name__}
    outputs = []
    targets = write_outputs(results, folder, stem, render=render, sample_rate=16000)  # wav: to embed
    for target, r in zip(targets, results):
        outputs.append({"file": target.name, "notes": r.notes,
                        "bits_per_note": r.bits_per_note if math.isfinite(r.bits_per_note) else None,
                        "continuation_beats": r.continuation_beats})
    record = {"seed": seed_path or "(none)", "status": "ok", "outputs": outputs}
    atomic_write_text(done, json.dumps(record))
    return record


def _complete_prompts(folder: Path, checkpoint: str, prompts: list[str], cfg) -> dict:
    """Text models: ``cfg.num_outputs`` completions of each prompt, one .txt file each."""
    from melodyrnn.core.loading import load_model
    from melodyrnn.text.corpus import complete_text

    checkpoint = load_model(checkpoint)  # once for every prompt
    records = []
    for k, prompt in enumerate(tqdm(prompts, unit="prompt", desc="generate", leave=False)):
        outs = complete_text(checkpoint, prompt, n=cfg.num_outputs, max_tokens=cfg.steps or 200,
                             decode=cfg.decode, seed=cfg.seed + k)
        files = []
        for j, c in enumerate(outs):
            atomic_write_text(folder / f"prompt{k}-{j}.txt", c.prompt + c.text)
            files.append({"file": f"prompt{k}-{j}.txt", "chars": len(c.text)})
        records.append({"seed": prompt, "status": "ok", "outputs": files})
    atomic_write_text(folder / "generate.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    return {"prompts": len(prompts), "outputs": sum(len(r["outputs"]) for r in records)}


def unique_stems(paths: list[str], taken: set[str]) -> list[str]:
    """Output names for seed files: each file's stem, with ``_2``, ``_3``... where two
    seeds (``a/jig.mid``, ``b/jig.mid``) or a reserved name (``sample``) would collide."""
    used, out = set(taken), []
    for path in paths:
        stem = candidate = Path(path).stem
        n = 2
        while candidate in used:
            candidate, n = f"{stem}_{n}", n + 1
        used.add(candidate)
        out.append(candidate)
    return out


def generate_stage(folder: Path, settings: dict, p, folders: dict) -> dict:
    prompts = settings.pop("prompts", None)
    seeds = settings.pop("seeds", None)
    unprimed = int(settings.pop("unprimed", 0))
    render = list(settings.pop("render", ["png"]))
    workers = int(settings.pop("workers", 0)) or os.cpu_count() or 1
    checkpoint = str(settings.pop("model", None) or folders["@model"])
    settings.setdefault("seed", p.seed)
    if "png" in render and importlib.util.find_spec("matplotlib") is None:
        print("[generate]: no piano rolls (pip install 'melodyrnn[render]' for matplotlib)",
              file=sys.stderr)
        render.remove("png")
    if "wav" in render:
        from melodyrnn.music.render import check_wav_renderer

        try:
            check_wav_renderer()
        except ValueError as e:  # audio is optional: the report says it is missing
            print(f"[generate]: no audio ({e})", file=sys.stderr)
            render.remove("wav")
    cfg = generate_config(**settings)
    if prompts:
        return _complete_prompts(folder, checkpoint, list(prompts), cfg)
    files = discover(seed_inputs(seeds)) if seeds else []
    jobs = [(checkpoint, f, stem, cfg, str(folder), render)
            for f, stem in zip(files, unique_stems(files, {"sample"} if unprimed else set()))]
    if unprimed:
        jobs.append((checkpoint, None, "sample", generate_config(**{**settings, "num_outputs": unprimed}),
                     str(folder), render))
    if not jobs:
        raise ValueError("[generate] needs seeds = FOLDER or unprimed = N")
    parallel = len(jobs) > 1 and workers > 1
    records = []
    with tqdm(total=len(jobs), unit="seed", desc="generate", leave=False) as bar, \
            (ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context(
                "spawn")) if parallel else contextlib.nullcontext()) as pool:
        for record in (pool.map if parallel else map)(_generate_one, jobs):
            records.append(record)
            bar.update(1)
    atomic_write_text(folder / "generate.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        raise ValueError(f"[generate]: every seed failed; first: {records[0].get('reason')}")
    model = Path(checkpoint)  # within the run folder: named relative to it, as a copied run folder keeps it
    model = model.relative_to(p.run_dir) if model.is_relative_to(p.run_dir) else model
    return {"model": str(model), "seeds": len(records), "ok": len(ok), "skipped": len(records) - len(ok),
            "outputs": sum(len(r["outputs"]) for r in ok), "render": render}


def evaluate_stage(folder: Path, settings: dict, p, folders: dict) -> dict:
    split = settings.pop("split", "test")
    copy_threshold = int(settings.pop("copy_threshold", 16))
    max_pieces = int(settings.pop("max_pieces", 400))
    out = {"model": evaluate(str(folders["@model"]), [str(_data(folders))], split=split)}
    music = "bits_per_note" in out["model"]  # text models report bits per character
    if "generate" in folders and music:
        samples = evaluate_samples(folders["generate"], _data(folders), train=_data(folders),
                                   split=split, max_pieces=max_pieces,
                                   copy_threshold=copy_threshold, seed=p.seed)
        out["samples"] = samples
        atomic_write_text(folder / "evaluate.md", markdown_table(samples) + "\n")
    if settings.pop("continuations", False) and music:
        out["continuations"] = _continuations(folder, folders, settings, split, p.seed)
    atomic_write_text(folder / "evaluate.json", json.dumps(out, indent=1))
    return {k: v for k, v in out["model"].items()
            if k in ("bits_per_note", "bits_per_char", "bits_per_token", "event_accuracy")}


def _continuations(folder: Path, folders: dict, settings: dict, split: str, seed: int) -> dict:
    """``[evaluate] continuations = true``: the split's tunes continued and compared with
    their own continuations (``melodyrnn evaluate-continuations``)."""
    from melodyrnn.music.continuations import ContinuationConfig, continuation_table, evaluate_continuations

    files = load_dataset(_data(folders)).split_files(split)
    cfg = ContinuationConfig(int(settings.pop("primer_bars", 8)), int(settings.pop("continuation_bars", 16)),
                             seed=seed)
    result = evaluate_continuations(str(folders["@model"]), files, cfg, features=False)
    atomic_write_text(folder / "continuations.md", continuation_table(result) + "\n")
    return {k: result[k] for k in ("config", "collections", "all")}


def report_stage(folder: Path, settings: dict, p, folders: dict) -> dict:
    from melodyrnn.pipeline.report import write_report

    trained = {name: f for name, f in folders.items() if kind_of(name) == "train"}
    path = write_report(folder / "report.html", p, folders, trained=trained, **settings)
    atomic_write_bytes(p.run_dir / "report.html", path.read_bytes())
    return {"report": str(p.run_dir / "report.html")}


RUNNERS = {"ingest": ingest_stage, "train": train_stage, "calibrate": calibrate_stage,
           "generate": generate_stage, "evaluate": evaluate_stage, "report": report_stage}
