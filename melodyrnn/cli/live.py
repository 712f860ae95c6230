"""``melodyrnn live``: call and response with the model over MIDI ports."""

from __future__ import annotations

import click

from melodyrnn.cli.common import FiniteFloatRange, fail_cleanly
from melodyrnn.live.ports import APIS  # a light module: the MIDI libraries load on use

__all__ = ["live"]

ACTIONS = ("temperature", "length", "loop", "regenerate", "panic")  # as melodyrnn.live.engine.ACTIONS


def _controls(ctx, param, values) -> dict:
    out = {}
    for item in values:
        action, _, number = item.partition("=")
        if action not in ACTIONS or not number.isdigit() or not 0 <= int(number) <= 127:
            raise click.BadParameter(f"{item!r}: expected ACTION=CC with ACTION one of "
                                     f"{', '.join(ACTIONS)} and CC 0-127")
        out[action] = int(number)
    return out


@click.command()
@click.option("--in", "in_port", default=None, help="Input port (a keyboard, or a DAW's port).")
@click.option("--out", "out_port", default=None, help="Output port (a synth, or a DAW's port).")
@click.option("--virtual", is_flag=True, help="Open virtual ports of these names instead.")
@click.option("--list-ports", is_flag=True, help="Print the MIDI ports and exit.")
@click.option("--api", type=click.Choice(list(APIS)), default=None,
              help="MIDI system to use [the system's default]; jack also runs on a "
                   "`jackd -d dummy` server without sound hardware.")
@click.option("--model", "checkpoint", default="default", show_default=True)
@click.option("--qpm", type=FiniteFloatRange(20, 400), default=120.0, show_default=True)
@click.option("--beats-per-bar", type=click.IntRange(1, 16), default=4, show_default=True)
@click.option("--silence-bars", type=FiniteFloatRange(0.25), default=1.0, show_default=True,
              help="Silence that ends a phrase.")
@click.option("--end-cc", type=click.IntRange(0, 127), default=None,
              help="A control change that ends the phrase at once.")
@click.option("--max-bars", type=click.IntRange(1), default=8, show_default=True)
@click.option("--response-bars", type=click.IntRange(1), default=None,
              help="Answer length [the phrase's length].")
@click.option("--temperature", type=FiniteFloatRange(0, min_open=True), default=1.0,
              show_default=True)
@click.option("--channel", type=click.IntRange(1, 16), default=1, show_default=True,
              help="MIDI channel of the answer.")
@click.option("--metronome", is_flag=True, help="Click every beat (channel 10).")
@click.option("--follow-clock", is_flag=True, help="Take tempo and beat from incoming MIDI clock.")
@click.option("--control", "controls", multiple=True, callback=_controls,
              help="ACTION=CC, e.g. temperature=21 (actions: " + ", ".join(ACTIONS) + ").")
@click.option("--learn", is_flag=True, help="Learn the control changes: move each control when asked.")
@click.option("--seed", type=int, default=0, show_default=True)
@fail_cleanly
def live(in_port, out_port, virtual, list_ports, api, checkpoint, qpm, beats_per_bar, silence_bars,
         end_cc, max_bars, response_bars, temperature, channel, metronome, follow_clock,
         controls, learn, seed) -> None:
    """Listen on a MIDI input and answer each phrase with the model on a MIDI output."""
    from melodyrnn.live.ports import open_ports, port_names, run_engine

    if list_ports:
        inputs, outputs = port_names(api)
        click.echo("inputs:\n" + "".join(f"  {n}\n" for n in inputs)
                   + "outputs:\n" + "".join(f"  {n}\n" for n in outputs), nl=False)
        return
    if not virtual and (in_port is None or out_port is None):
        raise click.UsageError("give --in and --out ports (see --list-ports), or --virtual")
    from melodyrnn.live.engine import LiveConfig, LiveEngine, ModelResponder

    cfg = LiveConfig(qpm=qpm, beats_per_bar=beats_per_bar, silence_bars=silence_bars,
                     end_cc=end_cc, max_bars=max_bars, response_bars=response_bars,
                     temperature=temperature, out_channel=channel - 1, metronome=metronome,
                     follow_clock=follow_clock, controls={**LiveConfig().controls, **controls},
                     seed=seed)
    log = (lambda msg: click.echo(msg, err=True))
    engine = LiveEngine(ModelResponder(checkpoint), cfg, log=log)
    inport, outport = open_ports(in_port, out_port, virtual, api)
    if learn:
        engine.learn()
        log("learning: move the controls for " + ", ".join(ACTIONS) + ", in that order")
    log(f"listening on {inport.name!r}, answering on {outport.name!r} (Ctrl-C stops)")
    run_engine(engine, inport, outport, log=log)
