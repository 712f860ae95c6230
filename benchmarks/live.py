"""Latency of `melodyrnn live`: from the end of a phrase to the answer's first note.

    python benchmarks/live.py [--model default] [--trials 3] [--jack]

Runs the live engine in real time (the system clock, 1-ms loop) on this machine's CPU: a
two-bar phrase of eighth and quarter notes at 120 qpm, then silence. The phrase starts on a bar line and ends
after a bar of silence (2 s after its last note-off, 0.2 beats before a beat); the answer is
due on the first beat after that.
Goal: the first note sounds within one beat (500 ms at 120 qpm). Measured between in-memory
ports (the baseline) and, with ``--jack``, through real MIDI ports on a ``jackd -d dummy``
server started for the run (Debian's jackd2): a second JACK client plays the phrase into
the engine's input and times the answer arriving from its output.
Also prints how long one answer takes to compose (the model call alone).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import mido

from melodyrnn.live.engine import LiveConfig, LiveEngine, ModelResponder
from melodyrnn.live.ports import run_engine

PHRASE = [(0.0, 62, 0.5), (0.5, 64, 0.5), (1.0, 66, 1.0), (2.0, 67, 0.5), (2.5, 69, 0.5),
          (3.0, 71, 1.0), (4.0, 69, 1.0), (5.0, 66, 1.0), (6.0, 62, 2.0)]  # (beat, pitch, beats)


def phrase_events(start: float, qpm: float) -> list[tuple]:
    """(clock time, message) of :data:`PHRASE` played from ``start``, notes held 90%."""
    spb = 60.0 / qpm
    events = []
    for beat, pitch, dur in PHRASE:
        events.append((start + beat * spb, mido.Message("note_on", note=pitch, velocity=90)))
        events.append((start + (beat + dur * 0.9) * spb, mido.Message("note_off", note=pitch)))
    return sorted(events, key=lambda e: e[0])


class TimedInput(mido.ports.BaseInput):
    def __init__(self, start: float, qpm: float):
        self.events = phrase_events(start, qpm)
        self.last_off = self.events[-1][0]
        super().__init__("timed")

    def _receive(self, block=True):
        if self.events and self.events[0][0] <= time.monotonic():
            return self.events.pop(0)[1]
        return None


class FirstNote(mido.ports.BaseOutput):
    def __init__(self):
        self.first = None
        super().__init__("first")

    def _send(self, msg):
        if msg.type == "note_on" and self.first is None:
            self.first = time.monotonic()


def phrase_start(engine) -> float:
    """The engine's first bar line at least 0.3 s from now: the phrase is played in time."""
    return engine.next_bar_time(time.monotonic() + 0.3)


def trial(responder, qpm: float, seed: int) -> float:
    engine = LiveEngine(responder, LiveConfig(qpm=qpm, seed=seed))
    start = phrase_start(engine)
    inport, outport = TimedInput(start, qpm), FirstNote()
    phrase_end = inport.last_off + 4 * 60.0 / qpm  # a bar of silence
    run_engine(engine, inport, outport, until=lambda: outport.first is not None
               or time.monotonic() > phrase_end + 3)
    return (outport.first - phrase_end) * 1000 if outport.first else float("inf")


def trial_jack(responder, qpm: float, seed: int) -> float:
    """Like :func:`trial`, through the engine's virtual JACK ports and a second client."""
    from melodyrnn.live.jack import peer_ports
    from melodyrnn.live.ports import open_ports, running, send_at

    engine = LiveEngine(responder, LiveConfig(qpm=qpm, seed=seed))
    inport, outport = open_ports(None, None, virtual=True, api="jack")
    with running(engine, inport, outport):
        player, listener = peer_ports()
        events = phrase_events(phrase_start(engine), qpm)
        send_at(player, events)
        phrase_end, first = events[-1][0] + 4 * 60.0 / qpm, None  # a bar of silence
        while first is None and time.monotonic() < phrase_end + 3:
            if any(m.type == "note_on" and m.velocity for m in listener.iter_pending()):
                first = time.monotonic()
            time.sleep(0.0005)
    for port in (player, listener, inport, outport):
        port.close()
    return (first - phrase_end) * 1000 if first else float("inf")


def report(label: str, latencies: list[float], beat_ms: float) -> None:
    print(f"{label}: " + ", ".join(f"{x:.0f} ms" for x in latencies)
          + f"; goal within one beat ({beat_ms:.0f} ms): "
          + ("met" if max(latencies) <= beat_ms else "NOT met"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--qpm", type=float, default=120.0)
    ap.add_argument("--jack", action="store_true",
                    help="also through real MIDI ports on a jackd -d dummy server")
    args = ap.parse_args()
    responder = ModelResponder(args.model)
    engine = LiveEngine(responder, LiveConfig(qpm=args.qpm))
    tune = engine._tune([(b, b + d * 0.9, p, 90) for b, p, d in PHRASE], 0.0)
    compose = []
    for k in range(5):
        t = time.perf_counter()
        responder(tune, 2, 1.0, k)
        compose.append((time.perf_counter() - t) * 1000)
    print(f"composing a 2-bar answer: median {statistics.median(compose):.0f} ms "
          f"(of {len(compose)}, max {max(compose):.0f} ms)")
    beat_ms = 60000 / args.qpm
    memory = [trial(responder, args.qpm, k) for k in range(args.trials)]
    report("in-memory ports: phrase end -> first answer note", memory, beat_ms)
    if args.jack:
        from melodyrnn.live.jack import dummy_server

        with dummy_server():
            real = [trial_jack(responder, args.qpm, k) for k in range(args.trials)]
        report("JACK ports (jackd -d dummy): phrase end -> first answer note", real, beat_ms)
        print(f"JACK / in-memory median latency: {statistics.median(real) / statistics.median(memory):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
