"""Option names -> config dataclasses, shared by the CLI and pipeline files.

Each function takes the options of one command by their CLI names (``--steps-per-quarter``
is ``steps_per_quarter``) with the CLI's defaults, so that a pipeline's ``[train]`` table and
``melodyrnn train`` mean the same thing. :func:`check_options` turns a misspelt name into a
``ValueError`` listing the valid ones.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from melodyrnn.music.compose import GenerateConfig
from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.core.registry import get_encoding
from melodyrnn.music.ingest.build import IngestConfig, run_ingest
from melodyrnn.music.ingest.worker import Limits
from melodyrnn.core.sampling import SamplingConfig
from melodyrnn.text.corpus import TextIngestConfig, ingest_text

if TYPE_CHECKING:  # the trainer imports torch: loaded by train_configs, not by generate
    from melodyrnn.core.trainer import TrainConfig
    from melodyrnn.music.form_calibration import CalibrateConfig

__all__ = ["ingest_config", "ingest", "Ingested", "train_configs", "generate_config", "calibrate_config",
           "check_options"]

#: the encodings whose inputs are text files (every other one reads MIDI)
TEXT_ENCODINGS = ("char", "word")


def check_options(fn, options: dict, what: str) -> None:
    """``ValueError`` naming the first option ``fn`` does not take, or the first whose
    value has the wrong type for it (from its default and annotation)."""
    params = {p.name: p for p in inspect.signature(fn).parameters.values()
              if p.kind == inspect.Parameter.KEYWORD_ONLY}
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(f"{what}: unknown option {unknown[0]!r}; valid: {', '.join(params)}")
    for name, value in options.items():
        want = _kind(params[name])
        if want and not _fits(value, want):
            raise ValueError(f"{what}: {name} = {value!r} must be {want}")


def _kind(param: inspect.Parameter) -> str:
    """What a setting must be: bool, int, number, text or list ('' for anything)."""
    d, ann = param.default, str(param.annotation)
    if isinstance(d, bool) or ann == "bool":
        return "true or false"
    if isinstance(d, (tuple, list)) or "tuple" in ann or "list" in ann:
        return "a list"
    if isinstance(d, int) or ann.startswith("int"):
        return "an integer"
    if isinstance(d, float) or ann.startswith("float"):
        return "a number"
    if isinstance(d, str) or ann.startswith("str"):
        return "a string"
    return ""


def _fits(value, want: str) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {"true or false": isinstance(value, bool), "a list": isinstance(value, list),
            "an integer": isinstance(value, int) and not isinstance(value, bool), "a number": number,
            "a string": isinstance(value, str)}[want]


def ingest_config(inputs, output: str, *, encoding: str = "melody", steps_per_quarter: int = 4,
                  min_pitch: int = 0, max_pitch: int = 127, transpose_to_key: int | None = None,
                  gap_bars: float = 1.0, min_notes: int | None = None,
                  min_unique_pitches: int = 5, per_instrument: bool = False,
                  valid: float = 0.05, test: float = 0.05, workers: int = 0,
                  shard: tuple[int, int] | None = None, max_notes: int = 100_000,
                  max_file_mb: float = 32.0, file_timeout: float = 20.0, seed: int = 0,
                  separator: str = "auto", max_words: int = 8000, min_count: int = 3,
                  quiet: bool = False) -> IngestConfig | TextIngestConfig:
    """The config of ``melodyrnn ingest INPUTS -o OUTPUT [options]``: an
    :class:`IngestConfig` for MIDI, a :class:`TextIngestConfig` for ``char``/``word``."""
    if encoding in TEXT_ENCODINGS:
        return TextIngestConfig(tuple(str(i) for i in inputs), str(output), encoding, separator,
                                valid, test, seed, max_words, min_count)
    if encoding == "melody":
        options = dict(steps_per_quarter=steps_per_quarter, min_pitch=min_pitch,
                       max_pitch=max_pitch, transpose_to_key=transpose_to_key, gap_bars=gap_bars,
                       min_notes=min_notes or 8, min_unique_pitches=min_unique_pitches)
    elif encoding == "performance":
        options = dict(per_instrument=per_instrument, min_notes=min_notes or 1)
    elif encoding == "chorale":
        options = dict(steps_per_quarter=steps_per_quarter, min_notes=min_notes or 8)
    else:
        options = {}
    enc = get_encoding(encoding, **options)
    limits = Limits(max_file_bytes=int(max_file_mb * 2 ** 20), max_notes=max_notes,
                    file_timeout_seconds=file_timeout,
                    chunk_timeout_seconds=max(file_timeout * 6, 60.0))
    return IngestConfig(inputs=tuple(str(i) for i in inputs), output=str(output),
                        encoding=enc.to_dict(), valid=valid, test=test, seed=seed,
                        workers=workers, shard=tuple(shard) if shard else None, limits=limits,
                        progress=not quiet)


@dataclass
class Ingested:
    """What an ingest run tells its caller: the summary the CLI prints and the pipeline
    records, the exit code (1: nothing could be ingested) and a per-reason log for stderr."""

    summary: dict
    exit_code: int = 0
    log: str = ""


def ingest(cfg: IngestConfig | TextIngestConfig) -> Ingested:
    """Run the ingest ``cfg`` describes -- MIDI files or text files -- into its dataset folder;
    the one place that tells the two apart after :func:`ingest_config`."""
    if isinstance(cfg, TextIngestConfig):
        meta = ingest_text(cfg)
        return Ingested({**meta["counts"], "splits": meta["splits"]})
    report = run_ingest(cfg)
    return Ingested({"files": report.files, **dict(report.status), "splits": report.splits},
                    report.exit_code, report.summary())


def train_configs(*, model: str = "lstm", hidden: int = 256, layers: int = 2,
                  embedding: int = 128, dropout: float = 0.0, tie_weights: bool = False,
                  lookback: bool = False, lookback_bars=(1, 2), bar_index: bool = False,
                  bar_copy: int = 0, copy_continue: bool = False, copy_length: bool = False,
                  section_plan: bool = False,
                  train_only: str = "",
                  add_on_lr: float = 0.0,
                  attention_length: int = 40,
                  unfused: bool = False, batch_size: int = 64, seq_len: int = 128,
                  lr: float = 2e-3, weight_decay: float = 0.01, optimizer: str = "adamw",
                  schedule: str = "cosine", warmup: int = 100, clip: float = 1.0,
                  epochs: int = 10, max_steps: int = 0, eval_every: int = 0, patience: int = 3,
                  transpose: int = 0, checkpoint_every: int = 200, seed: int = 0,
                  device: str = "auto", no_amp: bool = False) -> tuple[dict, TrainConfig]:
    """Model settings (a ``ModelConfig`` dict without the vocabulary) and the
    :class:`TrainConfig` of ``melodyrnn train [options]``."""
    from melodyrnn.core.trainer import TrainConfig

    model_dict = dict(kind=model, hidden=hidden, layers=layers, embedding=embedding,
                      dropout=dropout, tie_weights=tie_weights, lookback=lookback,
                      lookback_bars=tuple(lookback_bars), attention_length=attention_length,
                      fused=not unfused, bar_index=bar_index,
                      form={"bars": bar_copy, "cont": copy_continue, "length": copy_length,
                            "plan": section_plan})
    cfg = TrainConfig(batch_size=batch_size, seq_len=seq_len, lr=lr, weight_decay=weight_decay,
                      optimizer=optimizer, schedule=schedule, warmup_steps=warmup, clip=clip,
                      epochs=epochs, max_steps=max_steps, eval_every=eval_every,
                      patience=patience, augment={"transpose": transpose} if transpose else {},
                      seed=seed, device=device,
                      amp=not no_amp, checkpoint_every=checkpoint_every, train_only=train_only,
                      add_on_lr=add_on_lr)
    return model_dict, cfg


#: train's option names behind each model setting (the others are named as the setting;
#: ``--model`` is the CLI's parameter ``kind``, a pipeline's ``model``)
_MODEL_OPTIONS = {"kind": ("model", "kind"), "fused": ("unfused",)}
_FORM_OPTIONS = {"bars": "bar_copy", "cont": "copy_continue", "length": "copy_length", "plan": "section_plan"}


def named_model(model: dict, named) -> dict:
    """The part of ``train_configs``' model settings that the options ``named`` (a CLI's
    given options, a pipeline table's keys) set: what ``--resume`` must find unchanged. The
    form head's fields count one by one (``--copy-continue`` alone names its ``cont``)."""
    named = set(named)
    out = {k: v for k, v in model.items()
           if k != "form" and named.intersection(_MODEL_OPTIONS.get(k, (k,)))}
    form = {k: v for k, v in model.get("form", {}).items() if _FORM_OPTIONS[k] in named}
    return out | ({"form": form} if form else {})


def generate_config(*, num_outputs: int = 4, bars: int = 16, steps: int = 0,
                    temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                    greedy: bool = False, beam_size: int = 1, branch_factor: int = 1,
                    steps_per_iteration: int = 1, key: str | None = None,
                    pitch_range: tuple[int, int] | None = None, continuation_only: bool = False,
                    track: str | None = None, seed: int = 0, primer_bars: int = 8,
                    from_bar: int | None = None, phrase_bars: int = 4, max_plays: int = 2,
                    until_end: bool = False, allow_parallels: bool = False) -> GenerateConfig:
    """The :class:`GenerateConfig` of ``melodyrnn generate [options]``."""
    decode = DecodeConfig(SamplingConfig(temperature, top_k, top_p, greedy), beam_size,
                          branch_factor, steps_per_iteration)
    return GenerateConfig(num_outputs, bars, steps, decode, seed, continuation_only, key,
                          tuple(pitch_range) if pitch_range else None, track, primer_bars,
                          from_bar, phrase_bars, max_plays, until_end, allow_parallels)


def calibrate_config(*, weight: float = 0.0, policy_weight: float = 5.0, policy_outputs: int = 2,
                     policy_limit: int = 600, temperature: float = 1.0, epochs: int = 6, lr: float = 1e-3,
                     held_out_bias: bool = True, bias_outputs: int = 4, seed: int = 0) -> CalibrateConfig:
    """The :class:`~melodyrnn.music.form_calibration.CalibrateConfig` of ``melodyrnn
    calibrate-form [options]`` (the defaults: the shipped default model's recipe)."""
    from melodyrnn.core.form_bias import BiasConfig
    from melodyrnn.core.form_fit import FormFitConfig
    from melodyrnn.core.form_policy import PolicyConfig
    from melodyrnn.music.form_calibration import CalibrateConfig

    return CalibrateConfig(
        fit=FormFitConfig(weight=weight, policy_weight=policy_weight, epochs=epochs, lr=lr, seed=seed),
        policy=PolicyConfig(outputs=policy_outputs, temperature=temperature, limit=policy_limit, seed=seed),
        bias=(PolicyConfig(outputs=bias_outputs, temperature=temperature, seed=seed), BiasConfig())
        if held_out_bias else None)
