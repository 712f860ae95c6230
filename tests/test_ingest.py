import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.dataset import assign_split, load_dataset
from melodyrnn.core.registry import get_encoding
from melodyrnn.music.ingest.build import IngestConfig, run_ingest
from melodyrnn.music.midi_io import read_midi
from melodyrnn.music.quantize import extract_melodies

from midifactory import melody_file, note_events, scale_notes, smf, tempo, track_chunk, vlq

GOOD = 10


def tune_notes(seed: int, n: int = 24):
    rng = np.random.default_rng(seed)
    pitches = 60 + rng.integers(-7, 8, n)
    lengths = rng.choice([60, 120, 240, 480], n)  # 32nds (quantised to 16ths) .. quarters
    notes, t = [], 0
    for p, d in zip(pitches, lengths):
        notes.append((int(p), t, t + int(d), 90))
        t += int(d)
    return notes


def huge_delta_file() -> bytes:
    body = (vlq(0) + bytes([0x90, 60, 90]) + vlq(0x0FFFFFFF) + bytes([0x80, 60, 0])
            + b"\x00\xff\x2f\x00")
    return smf([b"MTrk" + struct.pack(">I", len(body)) + body])


def many_notes_file(n: int) -> bytes:
    body = bytearray()
    for i in range(n):
        body += bytes([0, 0x90, 60 + i % 12, 90, 10, 0x80, 60 + i % 12, 0])
    body += b"\x00\xff\x2f\x00"
    return smf([b"MTrk" + struct.pack(">I", len(body)) + bytes(body)])


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    (root / "a" / "b").mkdir(parents=True)
    for i in range(GOOD):
        folder = root / ("a" if i % 2 else "a/b")
        (folder / f"tune{i}.mid").write_bytes(melody_file(tune_notes(i), ts=(3, 4) if i % 3 else (4, 4)))
    shutil.copy(root / "a" / "tune1.mid", root / "twin.MID")  # a duplicate, upper-case suffix
    chords = [(60 + i + k, i * 480, i * 480 + 480, 80) for i in range(12) for k in (0, 4, 7)]
    (root / "chords.midi").write_bytes(melody_file(chords))
    drums = track_chunk(note_events([(36, i * 240, i * 240 + 60, 100) for i in range(32)], channel=9))
    (root / "drums.mid").write_bytes(smf([track_chunk([(0, 0, tempo(120))]), drums]))
    (root / "empty.mid").write_bytes(b"")
    (root / "text.mid").write_text("not music at all")
    (root / "truncated.mid").write_bytes(melody_file(tune_notes(99))[:70])
    (root / "zero_tpq.mid").write_bytes(melody_file(tune_notes(5), tpq=0))
    (root / "huge_delta.mid").write_bytes(huge_delta_file())
    (root / "many_notes.mid").write_bytes(many_notes_file(100_001))
    os.symlink(root / "missing.mid", root / "dangling.mid")
    (root / "notes.txt").write_text("ignored: not a MIDI suffix")
    return root


EXPECTED = {
    "chords.midi": ("ok", ""), "twin.MID": ("ok", ""),
    "drums.mid": ("skipped", "no sequence: drum_tracks_skipped=1"),
    "empty.mid": ("error", "empty file"), "text.mid": ("error", "not a MIDI file"),
    "truncated.mid": ("error", "corrupt MIDI"), "zero_tpq.mid": ("error", "ticks-per-quarter is 0"),
    "huge_delta.mid": ("skipped", "absurd length"), "many_notes.mid": ("skipped", "too many notes"),
    "dangling.mid": ("error", "unreadable"),
}


def ingest(*args):
    result = CliRunner().invoke(main, ["ingest", *map(str, args)], catch_exceptions=False)
    return result


def report(out: Path) -> dict[str, dict]:
    lines = [json.loads(x) for x in (out / "report.jsonl").read_text().splitlines()]
    return {Path(line["path"]).name: line for line in lines}


def test_ingest_reports_every_file_and_skips_bad_ones(corpus, tmp_path):
    out = tmp_path / "ds"
    result = ingest(corpus, "-o", out, "--workers", "2", "--valid", "0.2", "--test", "0.2")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    rep = report(out)
    assert len(rep) == GOOD + len(EXPECTED)  # one line per MIDI file found, notes.txt ignored
    for name, (status, reason) in EXPECTED.items():
        assert rep[name]["status"] == status, rep[name]
        assert rep[name]["reason"].startswith(reason), rep[name]
    for i in range(GOOD):
        line = rep[f"tune{i}.mid"]
        assert line["status"] == "ok" and line["sequences"] == 1 and line["reason"] == ""
        assert line["split"] == assign_split(line["hash"], 0.2, 0.2)
    assert rep["chords.midi"]["stats"]["notes_simultaneous_dropped"] == 24
    assert rep["twin.MID"]["hash"] == rep["tune1.mid"]["hash"]
    assert rep["twin.MID"]["split"] == rep["tune1.mid"]["split"]

    ds = load_dataset(out)
    meta = ds.meta
    assert meta["counts"] == {"files": 20, "ok": 12, "skipped": 3, "error": 5}
    assert sum(s["sequences"] for s in meta["splits"].values()) == 12
    assert isinstance(ds.split("train").tokens, np.memmap)
    enc = get_encoding("melody")
    # every stored sequence decodes to the melody extracted from its source file
    for split in ("train", "valid", "test"):
        arrays = ds.split(split)
        for i in range(arrays.n_sequences):
            src = meta["files"][arrays.source[i]]
            assert src["split"] == split
            (expected,), _ = extract_melodies(read_midi(src["path"]), enc.config)
            got = enc.decode(arrays.sequence(i))
            assert got.same_notes(expected)
            assert arrays.units[i] == len(expected)
            assert arrays.bar_steps[i] == expected.steps_per_bar
    summary = result.stderr
    assert "20 files: 12 ok, 3 skipped, 5 errors" in summary


def test_rerun_reuses_cache_and_resumes_after_interruption(corpus, tmp_path):
    enc = get_encoding("melody").to_dict()
    out = tmp_path / "ds"
    cfg = IngestConfig(inputs=(str(corpus),), output=str(out), encoding=enc, workers=1,
                       chunk_files=3, progress=False)
    first = run_ingest(cfg)
    assert first.cached == 0
    arrays_before = {p.name: p.read_bytes() for p in out.glob("*.npy")}
    second = run_ingest(cfg)
    readable = 19  # all but the dangling symlink, which has no content to hash
    assert second.cached == readable
    # an interrupted run: dataset files gone, part of the cache lost
    for p in out.glob("*.npy"):
        p.unlink()
    (out / "meta.json").unlink()
    chunks = sorted((out / ".cache").rglob("chunk-*.npz"))
    chunks[0].unlink()
    third = run_ingest(cfg)
    assert third.cached == readable - 3
    assert {p.name: p.read_bytes() for p in out.glob("*.npy")} == arrays_before


def test_deterministic_and_seeded_splits(corpus, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 0), (b, 0), (c, 7)):
        assert ingest(corpus, "-o", out, "-q", "--valid", "0.3", "--test", "0.3",
                      "--seed", seed).exit_code == 0
    for name in ("train.tokens.npy", "valid.offsets.npy", "test.source.npy"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    splits = lambda d: {k: v["split"] for k, v in report(d).items()}  # noqa: E731
    assert splits(a) == splits(b)
    assert splits(a) != splits(c)  # 12 files, 3 splits: a different salt moves some


def test_shards_merge_to_the_whole(corpus, tmp_path):
    whole = tmp_path / "whole"
    assert ingest(corpus, "-o", whole, "-q").exit_code == 0
    shards = [tmp_path / f"s{i}" for i in range(3)]
    for i, s in enumerate(shards):
        code = ingest(corpus, "-o", s, "-q", "--shard", f"{i}/3").exit_code
        ingested = any(x["status"] == "ok" for x in report(s).values())
        assert code == (0 if ingested else 1)  # 1: nothing ingested in that shard
    names = [set(report(s)) for s in shards]
    assert sum(len(n) for n in names) == len(report(whole))
    assert set().union(*names) == set(report(whole))
    merged = tmp_path / "merged"
    result = ingest("--merge", *shards, "-o", merged)
    assert result.exit_code == 0, result.output
    a, b = load_dataset(whole), load_dataset(merged)
    for split in ("train", "valid", "test"):
        seqs = lambda ds: sorted(tuple(ds.split(split).sequence(i).tolist())  # noqa: E731
                                 for i in range(ds.split(split).n_sequences))
        assert seqs(a) == seqs(b)
    assert b.meta["counts"] == a.meta["counts"]
    assert len(report(merged)) == len(report(whole))


def test_performance_encoding(corpus, tmp_path):
    out = tmp_path / "perf"
    assert ingest(corpus, "-o", out, "-q", "--encoding", "performance").exit_code == 0
    ds = load_dataset(out)
    assert ds.meta["encoding"]["name"] == "performance"
    assert ds.vocab_size == 391
    assert report(out)["chords.midi"]["status"] == "ok"


def test_nothing_ingestible_exits_nonzero(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.mid").write_bytes(b"garbage")
    result = ingest(tmp_path / "in", "-o", tmp_path / "out", "-q")
    assert result.exit_code == 1
    assert "nothing could be ingested" in result.stderr
    assert len(report(tmp_path / "out")) == 1


def test_unwritable_output_is_a_one_line_error(corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = ingest(corpus, "-o", blocker / "ds", "-q")
    assert result.exit_code != 0
    assert result.stderr.startswith("Error:") and len(result.stderr.strip().splitlines()) == 1


def test_missing_input_and_bad_shard_are_clean_errors(tmp_path):
    result = ingest(tmp_path / "nope", "-o", tmp_path / "o")
    assert result.exit_code != 0 and "no such file or folder" in result.stderr
    result = ingest(tmp_path, "-o", tmp_path / "o", "--shard", "3/2")
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_slow_file_times_out_alone(corpus, tmp_path, monkeypatch):
    import time

    import melodyrnn.music.ingest.worker as worker
    from melodyrnn.music.ingest.worker import Limits

    slow = melody_file(scale_notes([61, 63, 66, 68, 70] * 3))
    (corpus / "slow.mid").write_bytes(slow)
    real_read = worker.read_midi_batch

    def read(datas, *args, **kwargs):
        if slow in datas:
            time.sleep(60)
        return real_read(datas, *args, **kwargs)

    monkeypatch.setattr(worker, "read_midi_batch", read)  # inherited by the forked workers
    limits = Limits(chunk_timeout_seconds=3, file_timeout_seconds=1)
    cfg = IngestConfig(inputs=(str(corpus),), output=str(tmp_path / "ds"),
                       encoding=get_encoding("melody").to_dict(), workers=2, chunk_files=4,
                       limits=limits, progress=False)
    result = run_ingest(cfg)
    rep = report(tmp_path / "ds")
    assert rep["slow.mid"]["status"] == "error" and "timed out" in rep["slow.mid"]["reason"]
    assert all(rep[f"tune{i}.mid"]["status"] == "ok" for i in range(GOOD))
    assert result.exit_code == 0


def test_info(corpus, tmp_path):
    out = tmp_path / "ds"
    ingest(corpus, "-o", out, "-q")
    result = CliRunner().invoke(main, ["info", str(out)])
    assert result.exit_code == 0
    assert "train" in result.stdout and "NO_EVENT" in result.stdout
    d = json.loads(CliRunner().invoke(main, ["info", str(out), "--json"]).stdout)
    assert d["files"]["ok"] == 12 and d["vocab"]["size"] == 133
    assert sum(s["sequences"] for s in d["splits"].values()) == 12
    bad = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert bad.exit_code != 0 and "not a dataset folder" in bad.stderr


def test_a_file_that_breaks_the_batch_encoder_fails_alone(monkeypatch):
    from melodyrnn.music.encodings.melody import MelodyEncoding
    from melodyrnn.music.ingest.worker import Limits, process_chunk

    real = MelodyEncoding.encode_tunes

    def fragile(self, tunes):
        batch = tunes if isinstance(tunes, list) else [tunes.tune(i) for i in range(tunes.n_tunes)]
        if any(99 in t.tracks[0].pitch for t in batch if t.tracks):
            raise RuntimeError("boom")
        return real(self, tunes)

    monkeypatch.setattr(MelodyEncoding, "encode_tunes", fragile)
    datas = [melody_file(tune_notes(1)), melody_file(scale_notes([99, 98, 97, 96, 95] * 2)),
             melody_file(tune_notes(2)), b"junk"]
    items = [(f"h{i}", d) for i, d in enumerate(datas)]
    result = process_chunk(items, get_encoding("melody").to_dict(), Limits())
    assert result.status == ["ok", "error", "ok", "error"]
    assert result.reason[1] == "encoding failed: RuntimeError: boom"
    assert result.reason[3].startswith("not a MIDI file")
    assert result.batch.seq_tune.tolist() == [0, 2]
    assert result.record(0).stats["melodies"] == 1


def test_read_input_refuses_fifos_and_oversized_files(tmp_path):
    from melodyrnn.music.ingest.worker import Limits, read_input

    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    assert read_input(str(fifo), Limits()) == (None, "not a regular file")  # and does not hang
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + b"\0" * 2000)
    digest, reason = read_input(str(big), Limits(max_file_bytes=1000))
    assert digest is None and reason.startswith("file too large")
    digest, data = read_input(str(big), Limits())
    assert len(digest) == 32 and data == big.read_bytes()
