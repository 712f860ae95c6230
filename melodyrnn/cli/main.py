"""The ``melodyrnn`` command: typed options -> a config dataclass -> one library call.

Results go to stdout, logs and progress to stderr. Library imports happen inside the
commands so that ``melodyrnn --help`` starts instantly. Unusable input ends with a
one-line ``Error: ...`` on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys

import click

from melodyrnn.cli.batch import classify, evaluate_continuations, evaluate_samples, pipeline, plugins
from melodyrnn.cli.generate import generate, tracks
from melodyrnn.cli.common import FiniteFloatRange, OneLineGroup
from melodyrnn.cli.common import fail_cleanly as _fail_cleanly
from melodyrnn.cli.live import live
from melodyrnn.cli.studio import studio
from melodyrnn.core.install import __version__
from melodyrnn.music.limits import KEY, PITCH, STEPS_PER_QUARTER


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected i/n, for example 0/4") from None
    if not 0 <= i < n:
        raise click.BadParameter("need 0 <= i < n")
    return i, n


def _int_list(ctx, param, value: str) -> tuple[int, ...]:
    try:
        bars = tuple(int(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter("expected positive integers separated by commas, e.g. 1,2,4,8") from None
    if min(bars) < 1:
        raise click.BadParameter("bar counts must be positive")
    return bars


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="melodyrnn")
def main() -> None:
    """Learn music from MIDI collections with recurrent networks, and write new music."""
    import warnings

    warnings.showwarning = _one_line_warning


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Dataset folder to write.")
@click.option("--encoding", default="melody", show_default=True,
              help="melody (Magenta MelodyRNN events), performance (Performance RNN events), "
                   "chorale (a frame of voices per 16th step), or for text files char or word.")
@click.option("--steps-per-quarter", type=click.IntRange(*STEPS_PER_QUARTER), default=4, show_default=True,
              help="melody, chorale: grid steps per quarter note (4 = 16ths, 12 allows triplets).")
@click.option("--min-pitch", type=click.IntRange(*PITCH), default=0, show_default=True,
              help="melody: lowest pitch; lower notes fold up by octaves.")
@click.option("--max-pitch", type=click.IntRange(*PITCH), default=127, show_default=True,
              help="melody: highest pitch; higher notes fold down by octaves.")
@click.option("--transpose-to-key", type=click.IntRange(*KEY), default=None,
              help="melody: transpose each melody to this major key (0 = C).")
@click.option("--gap-bars", type=FiniteFloatRange(0, min_open=True), default=1.0, show_default=True,
              help="melody: a rest longer than this many bars ends a melody.")
@click.option("--min-notes", type=click.IntRange(1), default=None,
              help="Drop melodies/streams with fewer notes [melody: 8, performance: 1].")
@click.option("--min-unique-pitches", type=click.IntRange(1), default=5, show_default=True,
              help="melody: drop melodies with fewer distinct pitches.")
@click.option("--per-instrument", is_flag=True,
              help="performance: one sequence per track instead of all tracks merged.")
@click.option("--valid", type=FiniteFloatRange(0, 1, max_open=True), default=0.05,
              show_default=True, help="Fraction of files for the valid split.")
@click.option("--test", type=FiniteFloatRange(0, 1, max_open=True), default=0.05,
              show_default=True, help="Fraction of files for the test split.")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True,
              help="Worker processes (0 = all cores).")
@click.option("--shard", default=None, help="Process only shard i of n (0 <= i < n), as i/n.")
@click.option("--merge", is_flag=True, help="PATHS are shard dataset folders to combine.")
@click.option("--max-notes", type=click.IntRange(1), default=100_000, show_default=True,
              help="Skip files with more notes.")
@click.option("--max-file-mb", type=FiniteFloatRange(0, min_open=True), default=32.0,
              show_default=True, help="Skip larger files unread.")
@click.option("--file-timeout", type=FiniteFloatRange(0, min_open=True), default=20.0,
              show_default=True, help="Seconds one file may take before it is reported as an error.")
@click.option("--separator", default="auto", show_default=True,
              help="char/word: document separator line ('%%' as in fortune files), '' for "
                   "blank lines, lines:N for blocks; auto picks '%%' or blank lines.")
@click.option("--max-words", type=click.IntRange(1), default=8000, show_default=True,
              help="word: vocabulary size.")
@click.option("--min-count", type=click.IntRange(1), default=3, show_default=True,
              help="word: least count of a vocabulary word.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Salt of the content-hash split (0 = the plain content hash).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@_fail_cleanly
def ingest(paths, output, encoding, steps_per_quarter, min_pitch, max_pitch, transpose_to_key,
           gap_bars, min_notes, min_unique_pitches, per_instrument, valid, test, workers, shard,
           merge, max_notes, max_file_mb, file_timeout, separator, max_words, min_count, seed,
           quiet) -> None:
    """Turn MIDI files and folders (searched recursively) into a token dataset folder."""
    if merge:
        from melodyrnn.core.shards import merge_shards

        meta = merge_shards(list(paths), output)
        click.echo(json.dumps(meta["splits"]))
        return
    from melodyrnn.settings import ingest, ingest_config

    cfg = ingest_config(paths, output, encoding=encoding, steps_per_quarter=steps_per_quarter,
                        min_pitch=min_pitch, max_pitch=max_pitch,
                        transpose_to_key=transpose_to_key, gap_bars=gap_bars,
                        min_notes=min_notes, min_unique_pitches=min_unique_pitches,
                        per_instrument=per_instrument, valid=valid, test=test, workers=workers,
                        shard=_shard(shard), max_notes=max_notes, max_file_mb=max_file_mb,
                        file_timeout=file_timeout, seed=seed, separator=separator,
                        max_words=max_words, min_count=min_count, quiet=quiet)
    result = ingest(cfg)
    if result.log and not quiet:
        click.echo(result.log, err=True)
    click.echo(json.dumps({"output": output, **result.summary}))
    if result.exit_code:
        click.echo("Error: nothing could be ingested (see report.jsonl)", err=True)
    sys.exit(result.exit_code)


@main.command()
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@_fail_cleanly
def info(dataset, as_json) -> None:
    """Counts, split sizes, vocabulary usage and length statistics of a dataset folder."""
    from melodyrnn.core.dataset import describe, load_dataset

    d = describe(load_dataset(dataset))
    if as_json:
        click.echo(json.dumps(d))
        return
    enc = d["encoding"]
    click.echo(f"dataset   {d['path']}")
    click.echo(f"encoding  {enc['name']} {json.dumps(enc['config'])}")
    click.echo("files     " + ", ".join(f"{k} {v}" for k, v in d["files"].items()))
    unit = d.get("unit", "note")  # text datasets count characters
    for name, row in d["splits"].items():
        length = row.get("length", {})
        click.echo(f"{name:9} {row['sequences']:7d} sequences {row['tokens']:10d} tokens "
                   f"{row['notes']:9d} {unit}s  length min/median/mean/p95/max "
                   + "/".join(str(length.get(k, "-")) for k in ("min", "median", "mean", "p95", "max")))
    v = d["vocab"]
    click.echo(f"vocab     {v['used']} of {v['size']} tokens used; top: "
               + ", ".join(f"{t['token']} {t['share']:.1%}" for t in v["top"]))
    if d["stats"]:
        click.echo("ingest    " + ", ".join(f"{k} {n}" for k, n in sorted(d["stats"].items())))


@main.command()
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder: best.pt, last.pt, metrics.jsonl.")
@click.option("--model", "kind", default="lstm", show_default=True,
              help="Recurrent core: rnn, lstm, gru, attention, or an installed model plugin.")
@click.option("--hidden", type=click.IntRange(1), default=256, show_default=True)
@click.option("--layers", type=click.IntRange(1), default=2, show_default=True)
@click.option("--embedding", type=click.IntRange(1), default=128, show_default=True)
@click.option("--dropout", type=FiniteFloatRange(0, 1, max_open=True), default=0.0,
              show_default=True)
@click.option("--tie-weights", is_flag=True, help="Share input embedding and output layer.")
@click.option("--lookback", is_flag=True,
              help="Add the tokens some bars back, repeat flags and the position in the bar as inputs.")
@click.option("--lookback-bars", default="1,2", show_default=True, callback=_int_list,
              help="--lookback: how many bars back, comma-separated (folk phrases: 1,2,4,8).")
@click.option("--bar-index", is_flag=True,
              help="--lookback: also input the bar's index in the tune (its place in 2-, 4-, 8-, "
                   "16- and 32-bar blocks), so the model knows where it is in the form.")
@click.option("--bar-copy", type=click.IntRange(0, 32), default=0, show_default=True,
              help="--lookback: a form head that weighs repeating one of the last N bars against a "
                   "new bar at every bar line (0: off); with --init-from it is added to that network.")
@click.option("--copy-continue", is_flag=True,
              help="--bar-copy: the head also reads the network's output for each repeat under way, "
                   "so whether a repeat goes on depends on the tune; with --init-from it is added.")
@click.option("--copy-length", is_flag=True,
              help="--bar-copy: the head also reads the tune's length class with the bar's index "
                   "(inferred from the primer when generating); with --init-from it is added.")
@click.option("--section-plan", is_flag=True,
              help="--copy-length: the network also reads the bar's place in a tune of its length "
                   "class (where sections begin and end); with --init-from it is added.")
@click.option("--train-only", default="", help="Train only the parameters named PREFIX* (e.g. "
              "bar_copy: the form head on a frozen network).")
@click.option("--add-on-lr", type=FiniteFloatRange(0), default=0.0, show_default=True,
              help="--init-from: learning rate of the parts added to the network (0: --lr).")
@click.option("--attention-length", type=click.IntRange(1), default=40, show_default=True,
              help="attention: past outputs attended over.")
@click.option("--unfused", is_flag=True, help="rnn: run the written-out Elman equations.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--seq-len", type=click.IntRange(1), default=128, show_default=True,
              help="Truncated-BPTT window, in tokens.")
@click.option("--lr", type=FiniteFloatRange(0, min_open=True), default=2e-3, show_default=True)
@click.option("--weight-decay", type=FiniteFloatRange(0), default=0.01, show_default=True)
@click.option("--optimizer", type=click.Choice(["adamw", "adam"]), default="adamw",
              show_default=True)
@click.option("--schedule", type=click.Choice(["cosine", "plateau", "constant"]),
              default="cosine", show_default=True, help="After warm-up.")
@click.option("--warmup", type=click.IntRange(0), default=100, show_default=True,
              help="Warm-up steps.")
@click.option("--clip", type=FiniteFloatRange(0), default=1.0, show_default=True,
              help="Global gradient-norm clip (0: off).")
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True)
@click.option("--max-steps", type=click.IntRange(0), default=0, show_default=True,
              help="Stop after this many steps (0: no limit).")
@click.option("--eval-every", type=click.IntRange(0), default=0, show_default=True,
              help="Evaluate every N steps (0: every epoch).")
@click.option("--patience", type=click.IntRange(0), default=3, show_default=True,
              help="Stop after this many evaluations without improvement (0: never).")
@click.option("--transpose", type=click.IntRange(0, 12), default=0, show_default=True,
              help="Shift training sequences by a random -K..K semitones.")
@click.option("--checkpoint-every", type=click.IntRange(0), default=200, show_default=True,
              help="Write last.pt every N steps (and at every epoch end).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--no-amp", is_flag=True, help="No mixed precision on CUDA.")
@click.option("--init-from", type=click.Path(dir_okay=False), default=None,
              help="Fine-tune this checkpoint (same vocabulary).")
@click.option("--resume", is_flag=True, help="Continue RUN/last.pt exactly where it stopped (a finished "
              "run is left as it is; network options given must match the run's).")
@click.option("--task", type=click.Choice(["next", "classify"]), default="next", show_default=True,
              help="next: predict each next token; classify: one class per sequence.")
@click.option("--labels", default=None, help="classify: FILE.csv:COLUMN (rows name the files).")
@click.option("--max-len", type=click.IntRange(1), default=512, show_default=True,
              help="classify: tokens read from the start of each sequence.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_fail_cleanly
def train(dataset, run_dir, kind, hidden, layers, embedding, dropout, tie_weights, lookback,
          lookback_bars, bar_index, bar_copy, copy_continue, copy_length, section_plan, train_only, add_on_lr,
          attention_length,
          unfused, batch_size, seq_len, lr, weight_decay, optimizer, schedule, warmup, clip, epochs,
          max_steps, eval_every, patience, transpose, checkpoint_every, seed, device, no_amp, init_from,
          resume, task, labels, max_len, quiet) -> None:
    """Train a next-event model (or with --task classify a sequence classifier) on a dataset
    folder; prints the best valid metrics (classify: valid and test scores) as JSON."""
    from melodyrnn.settings import named_model, train_configs
    from melodyrnn.core.tasks import train as run_train

    model, cfg = train_configs(
        model=kind, hidden=hidden, layers=layers, embedding=embedding, dropout=dropout,
        tie_weights=tie_weights, lookback=lookback, lookback_bars=lookback_bars,
        bar_index=bar_index, bar_copy=bar_copy, copy_continue=copy_continue, copy_length=copy_length,
        section_plan=section_plan,
        train_only=train_only,
        add_on_lr=add_on_lr, attention_length=attention_length, unfused=unfused,
        batch_size=batch_size,
        seq_len=seq_len, lr=lr, weight_decay=weight_decay, optimizer=optimizer, schedule=schedule,
        warmup=warmup, clip=clip, epochs=epochs, max_steps=max_steps, eval_every=eval_every,
        patience=patience, transpose=transpose, checkpoint_every=checkpoint_every, seed=seed,
        device=device, no_amp=no_amp)
    if task == "classify":
        from melodyrnn.core.classifier import ClassifyConfig
        from melodyrnn.core.labels import train_classifier

        if not labels:
            raise click.UsageError("--task classify needs --labels FILE.csv:COLUMN")
        ccfg = ClassifyConfig(batch_size=batch_size, max_len=max_len, lr=lr,
                              weight_decay=weight_decay, epochs=epochs, patience=patience,
                              seed=seed, device=device)
        click.echo(json.dumps(train_classifier(dataset, run_dir, labels, model, ccfg,
                                               progress=not quiet)))
        return
    if resume:  # the network options given here must match the run's; defaults are not "given"
        ctx = click.get_current_context()
        given = {n for n in ctx.params if ctx.get_parameter_source(n) != click.core.ParameterSource.DEFAULT}
        model = named_model(model, given)
    best = run_train(dataset, run_dir, model, cfg, init_from=init_from, resume=resume,
                     progress=not quiet)
    click.echo(json.dumps(best))


@main.command()
@click.argument("checkpoint")
@click.argument("data", nargs=-1, required=True)
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test",
              show_default=True, help="For a dataset folder.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Accepted for uniformity; evaluation is deterministic.")
@_fail_cleanly
def evaluate(checkpoint, data, split, batch_size, device, seed) -> None:
    """Bits/note and accuracies of CHECKPOINT on a dataset folder or MIDI files/folders."""
    from melodyrnn.core.tasks import evaluate as run_evaluate

    click.echo(json.dumps(run_evaluate(checkpoint, list(data), split=split,
                                       batch_size=batch_size, device=device)))


@main.command()
@click.argument("checkpoint")
@click.argument("tunes", nargs=-1, required=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Accepted for uniformity; scoring is deterministic.")
@_fail_cleanly
def score(checkpoint, tunes, device, seed) -> None:
    """Bits/note of each tune under CHECKPOINT: one tab-separated line per file."""
    from melodyrnn.core.tasks import score_files

    failed, seen = 0, 0
    for path, bits, reason in score_files(checkpoint, list(tunes), device=device):
        seen += 1
        if bits is None:
            failed += 1
            click.echo(f"skipped {path}: {reason}", err=True)
        else:
            click.echo(f"{path}\t{bits:.4f}")
    if not seen:
        raise click.ClickException("no MIDI files in " + ", ".join(tunes))
    if failed == seen:
        sys.exit(1)


@main.command("calibrate-form")
@click.argument("checkpoint")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Checkpoint to write.")
@click.option("--weight", type=FiniteFloatRange(0), default=0.0, show_default=True,
              help="Weight of the bar-repeat cross-entropy on the real tunes beside the bars' likelihood.")
@click.option("--policy-weight", type=FiniteFloatRange(0), default=5.0, show_default=True,
              help="Weight of the one on the model's own continuations of the training tunes "
                   "(0: none; they are sampled as `generate` samples).")
@click.option("--policy-outputs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Continuations per training tune.")
@click.option("--policy-limit", type=click.IntRange(0), default=600, show_default=True,
              help="At most this many training tunes to continue (0: all long enough).")
@click.option("--temperature", type=FiniteFloatRange(0, min_open=True), default=1.0, show_default=True,
              help="Sampling temperature of those continuations.")
@click.option("--epochs", type=click.IntRange(0), default=6, show_default=True,
              help="Epochs of the head's fit (0: no fit, only --held-out-bias).")
@click.option("--lr", type=FiniteFloatRange(0, min_open=True), default=1e-3, show_default=True)
@click.option("--held-out-bias/--no-held-out-bias", default=True, show_default=True,
              help="Then set the head's new-bar bias so that the model's continuations of the valid "
                   "tunes repeat earlier bars as often as those tunes do.")
@click.option("--bias-outputs", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Continuations per valid tune for --held-out-bias.")
@click.option("--seed", type=int, default=0, show_default=True)
@_fail_cleanly
def calibrate_form(checkpoint, dataset, output, weight, policy_weight, policy_outputs, policy_limit,
                   temperature, epochs, lr, held_out_bias, bias_outputs, seed) -> None:
    """Refit CHECKPOINT's bar-copy head on DATASET so bars repeat as often as in real tunes;
    the defaults are the shipped default model's recipe (pipelines/default.toml)."""
    from melodyrnn.music.form_calibration import calibrate
    from melodyrnn.settings import calibrate_config

    cfg = calibrate_config(weight=weight, policy_weight=policy_weight, policy_outputs=policy_outputs,
                           policy_limit=policy_limit, temperature=temperature, epochs=epochs, lr=lr,
                           held_out_bias=held_out_bias, bias_outputs=bias_outputs, seed=seed)
    click.echo(json.dumps(calibrate(checkpoint, dataset, output, cfg)))


main.add_command(pipeline)
main.add_command(generate)
main.add_command(tracks)
main.add_command(evaluate_samples)
main.add_command(evaluate_continuations)
main.add_command(plugins)
main.add_command(classify)
main.add_command(live)
main.add_command(studio)

if __name__ == "__main__":
    main()
