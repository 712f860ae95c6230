"""``melodyrnn studio``: form parsing, the piano-roll view, and the JSON API (Flask's test
client), with every MIDI file built in code and every output re-read by mido."""

import base64
import io
import json

import mido
import pytest

from melodyrnn.music.midi_io import midi_bytes
from melodyrnn.studio.forms import parse_form
from melodyrnn.music.keys import pitch_name
from melodyrnn.studio.session import StudioConfig, piano_roll

from midifactory import melody_file, note_events, scale_notes, smf, track_chunk
from studio_client import page_client, seed_file, upload
from tunes import chorale, track, tune

flask = pytest.importorskip("flask", reason="Flask is not installed (pip install 'melodyrnn[studio]')")


@pytest.fixture
def studio(tmp_path):
    from melodyrnn.studio.session import Studio

    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "tune.mid").write_bytes(seed_file())
    s = Studio(StudioConfig(samples=str(tmp_path / "samples"), max_upload_bytes=64 * 1024))
    yield s
    s.close()


@pytest.fixture
def client(studio):
    return page_client(studio)


def test_form_fields_are_named_like_the_cli_options_with_either_separator():
    form = parse_form({"num-outputs": "2", "top_p": "0.9", "bars": "3", "until-end": "on",
                       "pitch-range": "60 80", "seed": "7", "model": "default"})
    cfg = form.config
    assert (cfg.num_outputs, cfg.bars, cfg.until_end, cfg.pitch_range, cfg.seed) == (2, 3, True, (60, 80), 7)
    assert cfg.decode.sampling.top_p == 0.9 and form.model == "default" and form.seed_id is None


@pytest.mark.parametrize("fields, message", [
    ({"bars": "0"}, "field 'bars' = '0': must be 1..1024"),
    ({"temperature": "hot"}, "field 'temperature' = 'hot': not a valid value"),
    ({"num_outputs": "17"}, "field 'num_outputs' = '17': must be 1..16"),
    ({"until_end": "maybe"}, "field 'until_end' = 'maybe': must be true or false"),
    ({"pitch_range": "60"}, "field 'pitch_range' = '60': must be two pitches, LOW HIGH"),
])
def test_bad_form_values_name_the_field(fields, message):
    with pytest.raises(ValueError) as e:
        parse_form(fields)
    assert str(e.value) == message


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="unknown field 'tempo'"):
        parse_form({"tempo": "120"})


def test_note_names_by_hand():  # the page's note names are keys.pitch_name's
    assert [pitch_name(p) for p in (21, 60, 61, 69, 70, 127)] == ["A0", "C4", "C#4", "A4", "A#4", "G9"]


def test_piano_roll_by_hand():
    # 3/4 at 120 qpm: bars every 1.5 s; a note from beat 1 to 2 is 0.5-1.0 s
    t = tune(track([(60, 1.0, 2.0, 70), (64, 3.0, 4.5)], name="m"), ts=((0.0, 3, 4),))
    roll = piano_roll(t, split_beats=3.0)
    assert roll["tracks"] == [{"name": "m", "program": 0, "is_drum": False,
                               "notes": [[0.5, 1.0, 60, 70], [1.5, 2.25, 64, 90]]}]
    assert roll["bars_seconds"] == [0.0, 1.5]
    assert roll["end_seconds"] == 2.25 and roll["split_seconds"] == 1.5
    assert roll["note_names"] == {60: "C4", 64: "E4"}


def test_health_and_info(client):
    assert client.get("/api/health").get_json() == {"ok": True}
    info = client.get("/api/info").get_json()
    assert info["models"] == ["default", "chorale"] and info["samples"] == ["tune.mid"]


def test_generate_with_an_upload_returns_midi_and_bits(client):
    r = client.post("/api/generate", data=upload(seed_file(), num_outputs=2, bars=2, seed=3))
    assert r.status_code == 200, r.get_json()
    outs = r.get_json()["outputs"]
    assert len(outs) == 2
    for out in outs:
        assert out["bits_per_note"] > 0 and out["new_notes"] > 0 and out["model"] == "default"
        inline = mido.MidiFile(file=io.BytesIO(base64.b64decode(out["midi_base64"])))
        fetched = client.get(out["midi_url"])
        assert fetched.status_code == 200 and fetched.data == base64.b64decode(out["midi_base64"])
        notes = [m for m in inline.merged_track if m.type == "note_on" and m.velocity]
        assert len(notes) == 16 + out["new_notes"]  # the two seed bars open each output
        assert out["roll"]["split_seconds"] == pytest.approx(4.0)
    again = client.post("/api/generate", data=upload(seed_file(), num_outputs=2, bars=2, seed=3))
    assert [o["midi_base64"] for o in again.get_json()["outputs"]] == [o["midi_base64"] for o in outs]


def test_a_stored_seed_its_tracks_and_a_changed_melody_track(client):
    bass_notes = note_events(scale_notes([38, 45] * 8, step_ticks=240), 1)
    bass = track_chunk([(0, 0, b"\xff\x03\x04bass")] + bass_notes)
    data = seed_file([bass])
    seed = client.post("/api/seeds", data=upload(data, "two.mid")).get_json()
    assert [t["melody"] for t in seed["tracks"]] == [True, False] and seed["model"] == "default"
    assert seed["roll"]["note_names"]["38"] == "D2"
    r = client.post("/api/generate", data={"seed_id": seed["id"], "track": "1", "bars": "1",
                                           "num_outputs": "1", "pitch-range": "36 50"})
    (out,) = r.get_json()["outputs"]
    assert all(36 <= n[2] <= 50 for t in out["roll"]["tracks"] for n in t["notes"])
    sample = client.post("/api/seeds", data={"sample": "tune.mid"}).get_json()
    assert sample["name"] == "tune.mid" and len(sample["tracks"]) == 1


def test_a_polyphonic_seed_is_continued_in_every_voice(client):
    r = client.post("/api/generate", data=upload(midi_bytes(chorale(5, bars=2)), num_outputs=1, bars=1))
    (out,) = r.get_json()["outputs"]
    assert out["model"] == "chorale"
    midi = mido.MidiFile(file=io.BytesIO(base64.b64decode(out["midi_base64"])))
    names = [m.name for t in midi.tracks for m in t if m.type == "track_name"]
    assert names[-4:] == ["Soprano", "Alto", "Tenor", "Bass"]
    split = out["roll"]["split_seconds"]
    assert all(any(n[0] >= split for n in t["notes"]) for t in out["roll"]["tracks"])


def _error(r) -> str:
    body = r.get_json()
    assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


@pytest.mark.parametrize("data, status, message", [
    (lambda: upload(b"hello, not a midi file"), 400, "not a MIDI file"),
    (lambda: upload(b"MThd" + b"\x00" * 200_000), 413, "upload too large: at most"),
    (lambda: upload(smf([track_chunk([(0, 0, b"\xff\x51\x03\x07\xa1\x20")])])), 400, "no pitched notes"),
    (lambda: upload(melody_file(scale_notes([36, 38]), channel=9)), 400, "no pitched notes"),
    (lambda: upload(b""), 400, "the uploaded file is empty"),
    (lambda: {"bars": "lots"}, 400, "field 'bars' = 'lots'"),
    (lambda: {"frobnicate": "1"}, 400, "unknown field 'frobnicate'"),
    (lambda: {"model": "/etc/passwd"}, 400, "unknown model '/etc/passwd'"),
    (lambda: {"seed_id": "s999"}, 400, "no seed 's999'"),
    (lambda: upload(seed_file(), from_bar=40), 400, "--from-bar 40"),
])
def test_bad_requests_get_a_4xx_with_one_line(client, data, status, message):
    r = client.post("/api/generate", data=data())
    assert r.status_code == status and message in _error(r)


def test_unknown_outputs_and_pages_are_json_404s(client):
    assert client.get("/api/outputs/o404.mid").status_code == 404
    assert "no output 'o404'" in _error(client.get("/api/outputs/o404.wav"))
    assert client.get("/nowhere").status_code == 404 and _error(client.get("/nowhere"))


def test_audio_without_fluidsynth_is_refused_with_a_reason(client, studio, monkeypatch):
    import melodyrnn.music.render as render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    r = client.post("/api/generate", data=upload(seed_file(), num_outputs=1, bars=1))
    (out,) = r.get_json()["outputs"]
    r = client.get(out["audio_url"])
    assert r.status_code == 503 and "FluidSynth" in _error(r) and "FluidSynth" in studio.audio_available()


@pytest.mark.needs_fluidsynth
def test_audio_is_rendered(client, studio):
    r = client.post("/api/generate", data=upload(seed_file(), num_outputs=1, bars=1))
    (out,) = r.get_json()["outputs"]
    r = client.get(out["audio_url"])
    assert studio.audio_available() == ""
    assert r.status_code == 200 and r.data[:4] == b"RIFF" and r.data[8:12] == b"WAVE"


def test_the_page_and_its_scripts_are_served_and_fetch_nothing_from_elsewhere(client):
    page = client.get("/").data.decode()
    assert 'src="/static/studio.js"' in page
    for name in ("studio.js", "studio.css"):
        body = client.get(f"/static/{name}").data.decode()
        assert "http://" not in body.replace("http://www.w3.org/2000/svg", "") and "https://" not in body
    assert "https://" not in page and "http://" not in page


def test_cli_refuses_a_port_in_use_in_one_line(tmp_path):
    import socket

    from click.testing import CliRunner

    from melodyrnn.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(main, ["studio", "--port", str(port)])
    assert r.exit_code == 1 and r.output.startswith("Error: cannot listen on 127.0.0.1:")
    assert r.output.count("\n") == 1


def test_the_json_api_answers_over_real_http(tmp_path):
    import urllib.request

    from melodyrnn.studio.server import start

    server, studio = start(StudioConfig(), port=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/health", timeout=10) as r:
            assert json.load(r) == {"ok": True}
    finally:
        server.shutdown()
        studio.close()


def test_history_keeps_each_generation_and_its_request(client):
    first = client.post("/api/generate", data=upload(seed_file(), num_outputs=2, bars=1, seed=4)).get_json()
    assert first["label"] == "seed.mid: 2 x 1 bars, T 1, seed 4, default"
    assert first["fields"]["seed_id"].startswith("s") and first["fields"]["bars"] == "1"
    again = client.post("/api/generate", data={**first["fields"], "num_outputs": "1", "seed": "1004"})
    assert again.status_code == 200
    history = client.get("/api/history").get_json()["history"]
    assert [len(h["outputs"]) for h in history] == [2, 1]
    assert [o["name"] for o in history[0]["outputs"]] == [o["name"] for o in first["outputs"]]


def test_a_checkpoint_of_ones_own_is_offered_as_custom(tiny_run):
    from melodyrnn.studio.session import Studio

    studio = Studio(StudioConfig(model=str(tiny_run)))
    try:
        client = page_client(studio)
        assert client.get("/api/info").get_json()["models"] == ["default", "chorale", "custom"]
        r = client.post("/api/generate", data=upload(seed_file(), num_outputs=1, bars=1))
        (out,) = r.get_json()["outputs"]  # --model is the one a request without "model" gets
        assert out["model"] == "custom" and out["new_notes"] > 0
        r = client.post("/api/generate", data=upload(seed_file(), model="default", num_outputs=1, bars=1))
        assert r.get_json()["outputs"][0]["model"] == "default"
        mido.MidiFile(file=io.BytesIO(base64.b64decode(out["midi_base64"])))
    finally:
        studio.close()
    assert not studio.folder.exists()  # the session's files go with it
