"""The live engine, driven through in-memory mido ports on a simulated clock."""

import os
import time

import mido
import pytest

from melodyrnn.live.engine import LiveConfig, LiveEngine, ModelResponder
from melodyrnn.live.ports import run_engine

STEP = 0.005  # seconds per loop turn


class Clock:
    def __init__(self):
        self.ticks = 0

    def __call__(self) -> float:
        return self.ticks * STEP

    def sleep(self, seconds: float) -> None:
        self.ticks += round(seconds / STEP)


class ScriptedInput(mido.ports.BaseInput):
    """Delivers each (time, message) once the clock reaches its time."""

    def __init__(self, clock, script, interrupt_at=None):
        self.clock, self.script, self.interrupt_at = clock, sorted(script, key=lambda x: x[0]), interrupt_at
        super().__init__("scripted")

    def _receive(self, block=True):
        if self.interrupt_at is not None and self.clock() >= self.interrupt_at[0]:
            raise self.interrupt_at[1]
        if self.script and self.script[0][0] <= self.clock() + 1e-9:
            return self.script.pop(0)[1]
        return None


class RecordingOutput(mido.ports.BaseOutput):
    def __init__(self, clock):
        self.clock, self.sent = clock, []
        super().__init__("recording")

    def _send(self, msg):
        self.sent.append((round(self.clock(), 4), msg))


def phrase(start=2.0, pitches=(60, 62, 64, 65)):
    """Quarter notes at 120 qpm from ``start`` seconds, each held 0.45 s."""
    out = []
    for i, p in enumerate(pitches):
        out += [(start + 0.5 * i, mido.Message("note_on", note=p, velocity=90)),
                (start + 0.5 * i + 0.45, mido.Message("note_off", note=p))]
    return out


class Stub:
    """A responder that records its calls and answers two fixed notes (in beats)."""

    def __init__(self, notes=((0.5, 1.0, 72, 80), (1.0, 2.0, 74, 80))):
        self.calls, self.notes = [], list(notes)

    def __call__(self, tune, bars, temperature, seed):
        t = tune.tracks[0]
        self.calls.append({"pitches": t.pitch.tolist(), "starts": t.start_beats.tolist(),
                           "bars": bars, "temperature": round(temperature, 3), "seed": seed})
        return self.notes


def drive(cfg=None, script=(), until=8.0, stub=None, interrupt_at=None, setup=None):
    clock = Clock()
    stub = stub or Stub()
    engine = LiveEngine(stub, cfg or LiveConfig(), clock=clock)
    if setup:
        setup(engine)
    out = RecordingOutput(clock)
    reason = run_engine(engine, ScriptedInput(clock, list(script), interrupt_at), out,
                        until=lambda: clock() >= until, sleep=clock.sleep, step=STEP)
    return [(t, str(m)) for t, m in out.sent], stub, reason, engine


def on(t, note, vel=80, ch=0):
    return (t, str(mido.Message("note_on", channel=ch, note=note, velocity=vel)))


def off(t, note, ch=0):
    return (t, str(mido.Message("note_off", channel=ch, note=note)))


def test_a_phrase_is_answered_on_the_first_beat_after_a_bar_of_silence():
    sent, stub, reason, _ = drive(script=phrase())
    # last note off at 3.95 s (beat 7.9); a bar of silence ends the phrase at beat 11.9, and
    # the answer starts on beat 12 (6.0 s) with its first note; notes end 0.1 ms early
    assert sent == [on(6.0, 72), off(6.25, 72), on(6.25, 74), off(6.75, 74)]
    assert stub.calls == [{"pitches": [60, 62, 64, 65], "starts": [0.0, 1.0, 2.0, 3.0],
                           "bars": 1, "temperature": 1.0, "seed": 0}]
    assert reason == "done"


def test_a_note_in_the_last_beat_of_silence_continues_the_phrase():
    late = [(5.6, mido.Message("note_on", note=67, velocity=90)), (5.8, mido.Message("note_off", note=67))]
    sent, stub, _, _ = drive(script=phrase() + late, until=9.0)
    # an answer was composed ahead at beat 10.9 (5.45 s), then voided by the note at 5.6 s
    assert len(stub.calls) == 2 and stub.calls[-1]["pitches"] == [60, 62, 64, 65, 67]
    assert sent[0] == on(8.0, 72)  # silence from 5.8 s: phrase ends at 7.8 s, answer at beat 16


def test_end_cc_ends_the_phrase_at_once():
    cc = [(4.1, mido.Message("control_change", control=64, value=127))]
    sent, stub, _, _ = drive(LiveConfig(end_cc=64), script=phrase() + cc)
    assert sent[0] == on(4.5, 72)  # the first beat after 4.1 s
    # a note still held at the CC ends there and belongs to the phrase; a long first note
    # released last still sets the phrase's start
    held = [(2.0, mido.Message("note_on", note=55, velocity=90)),
            (3.0, mido.Message("note_on", note=57, velocity=90)),
            (3.2, mido.Message("note_off", note=57))]
    _, stub, _, _ = drive(LiveConfig(end_cc=64), script=held + cc)
    assert stub.calls[0]["pitches"] == [55, 57] and stub.calls[0]["starts"] == [0.0, 2.0]


def test_controls_set_temperature_and_length_and_panic_silences():
    ccs = [(0.1, mido.Message("control_change", control=21, value=127)),
           (0.2, mido.Message("control_change", control=22, value=127)),
           (6.1, mido.Message("control_change", control=25, value=127))]
    sent, stub, _, engine = drive(script=phrase() + ccs)
    assert stub.calls[0]["temperature"] == 2.0 and stub.calls[0]["bars"] == 16
    # panic at 6.1 s: the sounding note ends, all-notes-off, and the rest is never played
    assert sent == [on(6.0, 72), off(6.1, 72),
                    (6.1, str(mido.Message("control_change", control=123, value=0)))]
    assert not engine.sounding


def test_loop_replays_and_regenerate_answers_again():
    loop = [(0.1, mido.Message("control_change", control=23, value=127))]
    sent, _, _, _ = drive(script=phrase() + loop, until=8.5)
    assert [t for t, m in sent if "note_on" in m] == [6.0, 6.25, 7.0, 7.25, 8.0, 8.25]
    regen = [(6.6, mido.Message("control_change", control=24, value=127))]
    sent, stub, _, _ = drive(script=phrase() + regen, until=8.0)
    assert [c["seed"] for c in stub.calls] == [0, 1]
    assert [t for t, m in sent if "note_on" in m] == [6.0, 6.25, 7.0, 7.25]  # the new one at beat 14


def test_learn_assigns_the_next_control_changes():
    ccs = [(0.1, mido.Message("control_change", control=50, value=1)),
           (0.2, mido.Message("control_change", control=51, value=1)),
           (0.3, mido.Message("control_change", control=50, value=127))]
    _, stub, _, engine = drive(script=phrase() + ccs, setup=lambda e: e.learn(["temperature", "loop"]))
    assert engine.controls["temperature"] == 50 and engine.controls["loop"] == 51
    assert stub.calls[0]["temperature"] == 2.0


def test_ctrl_c_mid_answer_ends_every_sounding_note():
    sent, _, reason, engine = drive(script=phrase(), interrupt_at=(6.3, KeyboardInterrupt()))
    assert reason == "interrupted"
    assert sent == [on(6.0, 72), off(6.25, 72), on(6.25, 74), off(6.3, 74)]
    assert not engine.sounding


def test_a_lost_input_port_stops_cleanly_too():
    sent, _, reason, engine = drive(script=phrase(), interrupt_at=(6.1, OSError("device unplugged")))
    assert reason == "lost a port: device unplugged"
    assert sent == [on(6.0, 72), off(6.1, 72)] and not engine.sounding


def test_metronome_and_midi_clock():
    sent, _, _, _ = drive(LiveConfig(metronome=True), until=1.6)
    clicks = [(t, m) for t, m in sent if "note_on" in m]
    assert clicks == [on(0.0, 76, 70, 9), on(0.5, 77, 70, 9), on(1.0, 77, 70, 9), on(1.5, 77, 70, 9)]
    ticks = [(i * 0.025, mido.Message("clock")) for i in range(24 * 4 + 1)]  # 100 qpm
    _, _, _, engine = drive(LiveConfig(follow_clock=True), script=ticks, until=2.5)
    assert engine.qpm == pytest.approx(100.0, rel=0.01)


def test_the_default_model_answers_a_phrase():
    responder = ModelResponder("default")
    engine = LiveEngine(responder, LiveConfig())
    tune = engine.phrase_tune([(4.0, 4.9, 60, 90), (5.0, 5.9, 62, 90), (6.0, 6.9, 64, 90), (7.0, 7.9, 65, 90)], 4.0)
    notes = responder(tune, 2, 1.0, 0)
    assert notes and all(0 <= a < b <= 8.0 + 1e-9 for a, b, _, _ in notes)
    assert notes == responder(tune, 2, 1.0, 0)  # seeded


def test_real_virtual_ports():
    """Where an ALSA sequencer and python-rtmidi exist: a virtual output port carries a note
    to an input port opened on it."""
    import time

    pytest.importorskip("rtmidi", reason="python-rtmidi is not installed "
                        "(pip install 'melodyrnn[live]'): real-port test skipped")
    if not os.path.exists("/dev/snd/seq"):
        pytest.skip("no ALSA sequencer (/dev/snd/seq) on this machine: real-port test skipped")
    from melodyrnn.live.ports import port_names

    outport = mido.open_output("melodyrnn test", virtual=True)
    inputs, _ = port_names()
    name = next(n for n in inputs if "melodyrnn test" in n)
    inport = mido.open_input(name)
    outport.send(mido.Message("note_on", note=60, velocity=90))
    time.sleep(0.2)
    received = list(inport.iter_pending())
    inport.close()
    outport.close()
    assert [m.note for m in received if m.type == "note_on"] == [60]


@pytest.fixture
def jack_server():
    """A ``jackd -d dummy`` server for this test (which carries ``needs_jack``): real MIDI
    ports without sound hardware."""
    from melodyrnn.live.jack import dummy_server

    with dummy_server() as name:
        yield name


@pytest.mark.needs_jack
def test_a_phrase_is_answered_through_real_jack_ports(jack_server):
    """The engine on virtual JACK ports, a second client playing into them: a bar of four
    quarter notes at 120 qpm, then silence; a one-bar answer comes back from the first beat
    after a bar of silence, every note it starts ended."""
    from melodyrnn.live.jack import peer_ports
    from melodyrnn.live.ports import open_ports, running, send_at

    engine = LiveEngine(ModelResponder("default"), LiveConfig(qpm=120.0, seed=0))
    inport, outport = open_ports(None, None, virtual=True, api="jack")
    received = []
    with running(engine, inport, outport):
        player, listener = peer_ports()
        bar = 2.0  # seconds, 4/4 at 120 qpm; the phrase starts on one of the engine's bar lines
        t0 = engine.next_bar_time(time.monotonic() + 0.2)
        send_at(player, [(t0 + 0.5 * i + dt, mido.Message(kind, note=pitch, velocity=v))
                         for i, pitch in enumerate((62, 64, 66, 67))
                         for dt, kind, v in ((0.0, "note_on", 90), (0.45, "note_off", 64))])
        phrase_end = t0 + 1.95 + 2.0  # the last note-off, then a bar of silence
        while time.monotonic() < phrase_end + 3.0:  # a one-bar answer (2 s) and room
            received += [(time.monotonic(), m) for m in listener.iter_pending()]
            time.sleep(0.001)
    time.sleep(0.2)  # the closing note-offs cross the JACK graph on its next cycles
    received += [(time.monotonic(), m) for m in listener.iter_pending()]
    for port in (player, listener, inport, outport):
        port.close()
    starts = [(t, m) for t, m in received if m.type == "note_on" and m.velocity]
    assert starts, "no answer came back through the JACK ports"
    latency = starts[0][0] - phrase_end
    # due on the first beat after the phrase end: within a beat (500 ms), plus room for a busy CI
    assert -0.02 <= latency <= 0.5 + 0.5, f"first answer note {latency * 1000:.0f} ms after the phrase end"
    ended = [m.note for _, m in received if m.type == "note_off" or m.type == "note_on" and not m.velocity]
    assert sorted(m.note for _, m in starts) == sorted(ended)
    assert starts[-1][0] - starts[0][0] < bar  # one bar
