"""MIDI ports for :mod:`melodyrnn.live.engine`: open them (mido with python-rtmidi), and run the
engine between them until Ctrl-C or a lost port, ending every note it started."""

from __future__ import annotations

import time

__all__ = ["port_names", "open_ports", "run_engine", "to_mido"]

INSTALL = "melodyrnn live needs mido and python-rtmidi: pip install 'melodyrnn[live]'"


def _mido():
    try:
        import mido
        import rtmidi  # noqa: F401  (mido's default backend)
    except ImportError:
        raise ValueError(INSTALL) from None
    return mido


def port_names() -> tuple[list[str], list[str]]:
    """(input port names, output port names) of the system's MIDI."""
    mido = _mido()
    try:
        return mido.get_input_names(), mido.get_output_names()
    except Exception as e:  # rtmidi: no ALSA sequencer, no CoreMIDI ...
        raise ValueError(f"cannot list MIDI ports: {e}") from None


def open_ports(in_name: str | None, out_name: str | None, virtual: bool = False):
    """(input, output) ports by name; ``virtual`` creates ports of those names that other
    programs connect to (ALSA, CoreMIDI)."""
    mido = _mido()
    if virtual:
        in_name, out_name = in_name or "melodyrnn in", out_name or "melodyrnn out"
    try:
        return (mido.open_input(in_name, virtual=virtual),
                mido.open_output(out_name, virtual=virtual))
    except Exception as e:  # an unknown name, or no MIDI system
        raise ValueError(f"cannot open MIDI ports ({in_name!r}, {out_name!r}): {e}") from None


def to_mido(msg):
    """A :class:`melodyrnn.live.engine.Message` as a ``mido.Message``."""
    import mido

    return mido.Message(msg.type, **msg.fields())


def run_engine(engine, inport, outport, *, until=None, sleep=time.sleep, step: float = 0.001,
               log=lambda msg: None) -> str:
    """Pass input to ``engine`` and its output to ``outport`` every ``step`` seconds, until
    ``until()`` is true, Ctrl-C, or a port fails; then send a note-off for every note the
    engine left sounding. Returns why it stopped."""
    reason = "done"
    try:
        while until is None or not until():
            for msg in inport.iter_pending():
                engine.handle(msg)
            for msg in engine.poll():
                outport.send(to_mido(msg))
            sleep(step)
    except KeyboardInterrupt:
        reason = "interrupted"
    except (OSError, IOError, RuntimeError) as e:  # a port that went away
        reason = f"lost a port: {e}"
    finally:
        for msg in engine.close():
            try:
                outport.send(to_mido(msg))
            except Exception:  # the output port itself is gone: nothing left to silence
                break
    log(f"stopped: {reason}")
    return reason
