"""MIDI ports for :mod:`melodyrnn.live.engine`: open them (mido with python-rtmidi, on the
system's default MIDI API or the one named: ALSA, JACK, CoreMIDI, Windows MM), and run the
engine between them until Ctrl-C or a lost port, ending every note it started."""

from __future__ import annotations

import contextlib
import threading
import time

__all__ = ["port_names", "open_ports", "run_engine", "running", "send_at", "to_mido", "backend", "APIS"]

INSTALL = "melodyrnn live needs mido and python-rtmidi: pip install 'melodyrnn[live]'"
#: ``--api`` names -> python-rtmidi's API names (as mido's rtmidi backend takes them)
APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}


def backend(api: str | None = None):
    """mido's python-rtmidi backend on ``api`` (a key of :data:`APIS`; None: the system's
    default)."""
    try:
        import mido
        import rtmidi  # noqa: F401  (mido's default backend)
    except ImportError:
        raise ValueError(INSTALL) from None
    if api is None:
        return mido.Backend("mido.backends.rtmidi")
    if api not in APIS:
        raise ValueError(f"unknown MIDI API {api!r}; choose from {', '.join(APIS)}")
    b = mido.Backend(f"mido.backends.rtmidi/{APIS[api]}")
    if APIS[api] not in b.module.get_api_names():
        raise ValueError(f"this python-rtmidi has no {api} support")
    return b


def port_names(api: str | None = None) -> tuple[list[str], list[str]]:
    """(input port names, output port names) of the system's MIDI (or of ``api``'s)."""
    b = backend(api)
    try:
        return b.get_input_names(), b.get_output_names()
    except Exception as e:  # rtmidi: no ALSA sequencer, no JACK server, no CoreMIDI ...
        raise ValueError(f"cannot list MIDI ports: {e}") from None


def open_ports(in_name: str | None, out_name: str | None, virtual: bool = False,
               api: str | None = None):
    """(input, output) ports by name; ``virtual`` creates ports of those names that other
    programs connect to (ALSA, JACK, CoreMIDI)."""
    b = backend(api)
    if virtual:
        in_name, out_name = in_name or "melodyrnn in", out_name or "melodyrnn out"
    try:
        return b.open_input(in_name, virtual=virtual), b.open_output(out_name, virtual=virtual)
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


@contextlib.contextmanager
def running(engine, inport, outport, **options):
    """:func:`run_engine` in a background thread for the ``with`` block; leaving it stops the
    engine and waits for it (its closing note-offs sent)."""
    stop = threading.Event()
    runner = threading.Thread(target=run_engine, args=(engine, inport, outport),
                              kwargs={"until": stop.is_set, **options}, daemon=True)
    runner.start()
    try:
        yield runner
    finally:
        stop.set()
        runner.join(timeout=10)


def send_at(port, events, clock=time.monotonic, sleep=time.sleep) -> None:
    """Send each ``(time, message)`` of ``events`` (clock times, in order) when its time comes."""
    for t, msg in events:
        while (left := t - clock()) > 0:
            sleep(min(left, 0.001))
        port.send(msg)
