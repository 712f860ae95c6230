"""``melodyrnn generate`` and ``melodyrnn tracks``: options -> a config -> one library call."""

from __future__ import annotations

import json

import click

from melodyrnn.cli.common import FiniteFloatRange
from melodyrnn.cli.common import fail_cleanly as _fail_cleanly

__all__ = ["generate", "tracks"]


@click.command()
@click.argument("seed_file", required=False, type=click.Path(dir_okay=False))
@click.option("--model", "checkpoint", default=None,
              help="Checkpoint to generate with, or a model shipped in the package: 'default' "
                   "(melodies) or 'chorale' (every voice). Default: chorale for a polyphonic "
                   "seed (three voices or more at once), else default.")
@click.option("--primer", default=None,
              help='Pitches to start from instead of a seed file: MIDI numbers 0-127 or note '
                   'names, e.g. "62 64 66" or "D4 E4 F#4" (one quarter note each).')
@click.option("--prompt", default=None,
              help="Text models: complete this text and print it (outputs separated by %% lines).")
@click.option("--track", default=None,
              help="The seed's melody track, by index or name (default: chosen from the music; "
                   "see `melodyrnn tracks SEED`).")
@click.option("--primer-bars", type=click.IntRange(0), default=8, show_default=True,
              help="Bars of the seed before the continuation point that prime the model and "
                   "open each output (0: the whole seed).")
@click.option("--from-bar", type=click.IntRange(1), default=None,
              help="Continue from this bar of the seed (1-based), replacing what follows; "
                   "default: after the seed's last bar.")
@click.option("--num-outputs", type=click.IntRange(1, 1000), default=4, show_default=True)
@click.option("--until-end", is_flag=True,
              help="Let the model end each tune (its end token, a cadence) within --bars.")
@click.option("--allow-parallels", is_flag=True,
              help="Voice models: let the outer voices move in parallel fifths and octaves "
                   "(ruled out by default).")
@click.option("--bars", type=click.IntRange(1, 1024), default=16, show_default=True)
@click.option("--steps", type=click.IntRange(0, 1024 * 96), default=0,
              help="Length in steps (overrides --bars).")
@click.option("--temperature", type=FiniteFloatRange(0, min_open=True), default=1.0,
              show_default=True)
@click.option("--top-k", type=click.IntRange(0), default=0, show_default=True)
@click.option("--top-p", type=FiniteFloatRange(0, 1, min_open=True), default=1.0, show_default=True)
@click.option("--greedy", is_flag=True, help="Always the likeliest event (one output).")
@click.option("--beam-size", type=click.IntRange(1, 256), default=1, show_default=True,
              help="> 1: beam search; the outputs are the N best distinct beams.")
@click.option("--branch-factor", type=click.IntRange(1, 256), default=1, show_default=True,
              help="> 1: Magenta's stochastic beam search.")
@click.option("--steps-per-iteration", type=click.IntRange(1, 4096), default=1, show_default=True)
@click.option("--max-plays", type=click.IntRange(0), default=2, show_default=True,
              help="No run of --phrase-bars bars is played more often than this, primer "
                   "included (0: no limit; greedy and beam decoders then loop the seed).")
@click.option("--phrase-bars", type=click.IntRange(1), default=4, show_default=True,
              help="Length of the runs --max-plays counts, in bars.")
@click.option("--key", default=None,
              help="Keep to this key's scale and write its key signature, e.g. D, Bb, F#m "
                   "(default: the seed's key signature, or the key inferred from its notes).")
@click.option("--pitch-range", type=(click.IntRange(0, 127), click.IntRange(0, 127)), default=None,
              help="LOW HIGH pitches of new notes (default: the range the model saw in training).")
@click.option("--continuation-only", is_flag=True, help="Write only the new part.")
@click.option("--output-dir", type=click.Path(file_okay=False), default="generated",
              show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--render", type=click.Choice(["wav", "png"]), multiple=True,
              help="Also write audio (FluidSynth, peak -1 dBFS) or a piano roll of each output.")
@click.option("--soundfont", type=click.Path(), default=None,
              help="General MIDI SoundFont for --render wav (default: $MELODYRNN_SOUNDFONT or "
                   "the system's, e.g. Debian's fluid-soundfont-gm).")
@click.option("--seed", type=int, default=0, show_default=True)
@_fail_cleanly
def generate(seed_file, checkpoint, primer, prompt, track, primer_bars, from_bar, num_outputs,
             until_end, allow_parallels, bars, steps, temperature, top_k, top_p, greedy, beam_size,
             branch_factor, steps_per_iteration, max_plays, phrase_bars, key, pitch_range, continuation_only,
             output_dir, force, render, soundfont, seed) -> None:
    """Write new tunes continuing SEED_FILE (or --primer, or nothing); paths go to stdout,
    the track, bars and key used to stderr. With a text model, --prompt TEXT prints
    completions instead."""
    from pathlib import Path

    from melodyrnn.music.compose import generate as run_generate
    from melodyrnn.music.midi_io import read_midi
    from melodyrnn.music.outputs import output_paths, write_outputs
    from melodyrnn.music.seeds import parse_primer
    from melodyrnn.music.voices import model_for
    from melodyrnn.settings import generate_config

    if seed_file and primer:
        raise click.UsageError("give a seed file or --primer, not both")
    pitches = parse_primer(primer) if primer is not None else None
    cfg = generate_config(num_outputs=num_outputs, bars=bars, steps=steps, temperature=temperature,
                          top_k=top_k, top_p=top_p, greedy=greedy, beam_size=beam_size,
                          branch_factor=branch_factor, steps_per_iteration=steps_per_iteration,
                          key=key, pitch_range=pitch_range, continuation_only=continuation_only,
                          track=track, seed=seed, primer_bars=primer_bars, from_bar=from_bar,
                          max_plays=max_plays, phrase_bars=phrase_bars, until_end=until_end,
                          allow_parallels=allow_parallels)
    if prompt is not None:
        checkpoint = checkpoint or "default"
        if seed_file or primer:
            raise click.UsageError("--prompt completes text: give no seed file or --primer with it")
        from melodyrnn.text.corpus import complete_text

        outs = complete_text(checkpoint, prompt, n=num_outputs, max_tokens=steps or 200,
                             decode=cfg.decode, seed=seed)
        click.echo("\n%\n".join(c.prompt + c.text for c in outs))
        return
    stem = Path(seed_file).stem if seed_file else ("primer" if pitches else "sample")
    out_dir = Path(output_dir)
    targets = output_paths(out_dir, stem, num_outputs)
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise click.ClickException(f"{existing[0]} exists; pass --force to overwrite")
    if "wav" in render or soundfont:
        from melodyrnn.music.render import check_wav_renderer

        check_wav_renderer(soundfont)  # before generating, not after
    seed_tune = read_midi(seed_file) if seed_file else None
    if checkpoint is None:
        checkpoint, why = model_for(seed_tune)
        if why:
            click.echo(why, err=True)
    results = run_generate(checkpoint, seed_tune, pitches, cfg)
    if results and results[0].window is not None:
        click.echo(_describe_window(seed_tune, results[0]), err=True)
    elif results and results[0].voices:
        click.echo(_describe_voices(results[0]), err=True)
    targets = write_outputs(results, out_dir, stem, render=render, soundfont=soundfont)
    for target, result in zip(targets, results):
        click.echo(str(target))
        click.echo(f"{target.name}: {result.notes} new notes, {result.bits_per_note:.3f} bits/note"
                   + (f", key {result.key} ({result.key_source})" if result.key else ""), err=True)


def _describe_voices(result) -> str:
    """One stderr line: the voices written, which seed bars primed them."""
    first, cut, total = result.voice_window
    used = f"bars {first + 1}-{cut} of {total}" if cut > first else "no bars"
    return (f"voices: {', '.join(result.voices)}; primer: {used}; the continuation starts at "
            f"{result.continuation_beats:g} beats, one track per voice")


def _describe_window(seed, result) -> str:
    """One stderr line: which track and bars primed the outputs, where the new part starts."""
    w = result.window
    where = f"at bar {w.cut_bar - w.first_bar + 1} ({result.continuation_beats:g} beats)"
    if result.continuation_beats == 0:
        where = "alone (--continuation-only)"
    if seed is None:
        return f"primer: {len(w.melody)} notes; the continuation starts {where}"
    t = seed.tracks[w.track_index]
    used = (f"bars {w.first_bar}-{w.cut_bar - 1} of {w.seed_bars}" if w.cut_bar > w.first_bar
            else "no bars")
    return (f"seed: track {w.track_index} {t.name!r} (program {t.program}, {len(t)} notes) of "
            f"{len(seed.tracks)}; primer: {used}; the continuation starts {where}")


@click.command()
@click.argument("midi_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array instead of a table.")
@_fail_cleanly
def tracks(midi_file, as_json) -> None:
    """List MIDI_FILE's tracks and mark the melody track `generate` would take."""
    from melodyrnn.core.inputs import read_guarded
    from melodyrnn.music.midi_io import read_midi_bytes, track_channels
    from melodyrnn.music.tracks import describe_tracks

    data = read_guarded(midi_file)
    tune = read_midi_bytes(data)
    infos = describe_tracks(tune, track_channels(tune, data))
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos]))
        return
    click.echo(f"{'':2}{'index':>5}  {'name':<24}{'program':>7}{'channel':>8}{'notes':>7}"
               f"{'polyphony':>10}  range")
    for i in infos:
        channel = "?" if i.channel is None else str(i.channel)
        span = f"{i.pitch_low}-{i.pitch_high}" if i.notes else "-"
        click.echo(f"{'*' if i.melody else ' ':2}{i.index:>5}  {i.name[:23]:<24}{i.program:>7}"
                   f"{channel:>8}{i.notes:>7}{i.polyphony:>10.2f}  {span}")
