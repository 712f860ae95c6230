"""Commands over collections: ``melodyrnn pipeline run`` and ``melodyrnn evaluate-samples``."""

from __future__ import annotations

import json

import click

from melodyrnn.cli.common import FiniteFloatRange, fail_cleanly

__all__ = ["pipeline", "evaluate_samples", "evaluate_continuations", "plugins", "classify"]

@click.group()
def pipeline() -> None:
    """Run a pipeline file: ingest -> train -> calibrate -> generate -> evaluate -> report."""


@pipeline.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--run-dir", default=None, help="Run folder [the file's run_dir, or runs/NAME].")
@click.option("--dry-run", is_flag=True, help="Print the plan and what is cached; run nothing.")
@click.option("--force", default=None, metavar="STAGE",
              help="Re-run this stage (its table's name) and every stage after it.")
@click.option("--seed", type=int, default=None, help="Override the file's seed.")
@fail_cleanly
def run(file, run_dir, dry_run, force, seed) -> None:
    """Run FILE's stages that are not finished yet; a summary goes to stdout as JSON."""
    from melodyrnn.pipeline.plan import load_pipeline, run_pipeline

    p = load_pipeline(file, run_dir, seed)
    summaries = run_pipeline(p, dry_run=dry_run, force=force)
    if not dry_run:
        click.echo(json.dumps({"run_dir": str(p.run_dir), "stages": summaries}, default=str))


@click.command("evaluate-samples")
@click.argument("generated", type=click.Path(exists=True))
@click.argument("reference", type=click.Path(exists=True))
@click.option("--train", "train_set", type=click.Path(exists=True), default=None,
              help="Training tunes (dataset folder or MIDI) to look for copies in.")
@click.option("--split", default="test", show_default=True,
              help="Split of a dataset folder given as REFERENCE.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the full result as JSON here.")
@click.option("--max-pieces", type=click.IntRange(2), default=400, show_default=True,
              help="Subsample larger sets to this many tunes.")
@click.option("--copy-threshold", type=click.IntRange(1), default=16, show_default=True,
              help="Shared runs of this many notes count as copies.")
@click.option("--seed", type=int, default=0, show_default=True)
@fail_cleanly
def evaluate_samples(generated, reference, train_set, split, json_path, max_pieces,
                     copy_threshold, seed) -> None:
    """Compare GENERATED tunes with REFERENCE tunes (Yang & Lerch); a Markdown table on stdout."""
    from melodyrnn.core.atomic import atomic_write_text
    from melodyrnn.music.sample_eval import evaluate_samples as run, markdown_table

    result = run(generated, reference, train=train_set, split=split, max_pieces=max_pieces,
                 copy_threshold=copy_threshold, seed=seed)
    for s in result["skipped"]:
        click.echo(f"skipped {s['path']}: {s['reason']}", err=True)
    click.echo(markdown_table(result))
    if json_path:
        atomic_write_text(json_path, json.dumps(result, indent=1))


@click.command("evaluate-continuations")
@click.argument("checkpoint")
@click.argument("tunes", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--primer-bars", type=click.IntRange(1), default=8, show_default=True)
@click.option("--bars", type=click.IntRange(1), default=16, show_default=True,
              help="Bars to continue (tunes need primer + these bars).")
@click.option("--num-outputs", type=click.IntRange(1), default=1, show_default=True,
              help="Continuations per tune.")
@click.option("--temperature", type=FiniteFloatRange(0, min_open=True), default=1.0, show_default=True)
@click.option("--top-p", type=FiniteFloatRange(0, 1, min_open=True), default=1.0, show_default=True)
@click.option("--max-plays", type=click.IntRange(0), default=2, show_default=True,
              help="As generate's: no 4-bar run played more often (0: no limit).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the full result (per tune, features) as JSON here.")
@click.option("--seed", type=int, default=0, show_default=True)
@fail_cleanly
def evaluate_continuations(checkpoint, tunes, primer_bars, bars, num_outputs, temperature, top_p,
                           max_plays, json_path, seed) -> None:
    """Prime CHECKPOINT with the first bars of each of TUNES, continue, and compare the
    continuations with the tunes' own (form, Yang-Lerch features, bits/note of the real
    continuation); a Markdown table on stdout."""
    from melodyrnn.core.atomic import atomic_write_text
    from melodyrnn.core.continuation import DecodeConfig
    from melodyrnn.music.continuations import ContinuationConfig, continuation_table
    from melodyrnn.music.continuations import evaluate_continuations as run
    from melodyrnn.core.sampling import SamplingConfig

    cfg = ContinuationConfig(primer_bars, bars, num_outputs,
                             DecodeConfig(SamplingConfig(temperature, top_p=top_p)), max_plays, seed)
    result = run(checkpoint, list(tunes), cfg)
    click.echo(f"{len(result['skipped'])} files skipped (too short or unreadable)", err=True)
    click.echo(continuation_table(result))
    if json_path:
        atomic_write_text(json_path, json.dumps(result, indent=1, default=float))


@click.command("plugins")
def plugins() -> None:
    """List encodings and model kinds: built-in, and installed plugins with their package."""
    from melodyrnn.core.registry import plugins as encodings
    from melodyrnn.core.models import KINDS
    from melodyrnn.core.models.plugins import MODEL_GROUP, describe_plugins

    rows = [(p.group, p.name, p.source, p.error) for p in encodings()]
    rows += [(MODEL_GROUP, kind, "built-in", "") for kind in KINDS]
    rows += [(MODEL_GROUP, *found) for found in describe_plugins()]
    for group, name, source, error in rows:
        click.echo(f"{group}\t{name}\t{source}" + (f"  FAILED: {error}" if error else ""))
    failed = sum(bool(r[3]) for r in rows)
    if failed:
        click.echo(f"{failed} plugin(s) failed to load; melodyrnn works without them", err=True)


@click.command("classify")
@click.argument("checkpoint")
@click.argument("files", nargs=-1, required=True)
@fail_cleanly
def classify(checkpoint, files) -> None:
    """Predicted class and its probability for each input file (tab-separated)."""
    import sys

    from melodyrnn.core.labels import classify_files

    results = classify_files(checkpoint, list(files))
    for path, label, prob, reason in results:
        if label is None:
            click.echo(f"skipped {path}: {reason}", err=True)
        else:
            click.echo(f"{path}\t{label}\t{prob:.3f}")
    if all(label is None for _, label, _, _ in results):
        sys.exit(1)
