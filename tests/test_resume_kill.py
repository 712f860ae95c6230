"""kill -9 at the renames of train and pipeline run, then resume: the same bytes as an unbroken
run (benchmarks/kill_resume.py, on a small model); a finished run resumed changes nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.checkpoint import load_checkpoint

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "kill_resume.py"
SMALL = ["--hidden", "16", "--layers", "1", "--embedding", "8", "--batch-size", "8", "--seq-len", "32",
         "--warmup", "2", "--checkpoint-every", "2", "--eval-every", "3", "--patience", "0", "-q"]


def bench(tmp_path, *args) -> list[list[str]]:
    """Run the benchmark; its table's rows, split into columns."""
    proc = subprocess.run([sys.executable, str(BENCH), "--work", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [line.split() for line in proc.stdout.splitlines() if line.startswith(("train ", "pipeline "))]


def test_a_kill_at_every_rename_of_train_resumes_to_the_same_bytes(tmp_path):
    rows = bench(tmp_path, "--only", "train")
    kills = [r for r in rows if r[1] != "finished"]
    assert len(kills) >= 6 and all(r[2] == "killed" for r in kills)  # every rename, each a kill
    assert [int(r[1]) for r in kills] == list(range(1, len(kills) + 1))
    assert all(r[3:5] == ["exit", "0"] and r[-1] == "yes" for r in rows), rows
    assert rows[0][1] == "finished" and rows[0][5] == "0"  # resumed when done: nothing written


def test_kills_spread_over_a_pipeline_run_resume_to_the_same_bytes(tmp_path):
    rows = bench(tmp_path, "--only", "pipeline", "--every", "5")
    kills = [r for r in rows if r[1] != "finished"]
    assert len(kills) >= 8 and all(r[2] == "killed" for r in kills)  # ingest to report
    assert all(r[3:5] == ["exit", "0"] and r[-1] == "yes" for r in rows), rows


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_resuming_a_finished_run_changes_nothing(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    assert cli("train", tiny_dataset, "-o", run, *SMALL, "--max-steps", "6").exit_code == 0
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()}
    result = cli("train", tiny_dataset, "-o", run, *SMALL, "--max-steps", "6", "--resume")
    assert result.exit_code == 0 and "finished" in result.stderr and "step 6" in result.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()} == files
    # a higher limit goes on from there
    assert cli("train", tiny_dataset, "-o", run, *SMALL, "--max-steps", "8", "--resume").exit_code == 0
    assert load_checkpoint(run / "last.pt")["training"]["global_step"] == 8


@pytest.mark.parametrize("option, value, name", [("--hidden", "32", "hidden"), ("--model", "gru", "kind"),
                                                 ("--lookback", None, "lookback")])
def test_resume_refuses_another_network(tiny_dataset, tmp_path, option, value, name):
    run = tmp_path / "run"
    assert cli("train", tiny_dataset, "-o", run, *SMALL, "--max-steps", "2", "--epochs", "1").exit_code == 0
    before = (run / "last.pt").read_bytes()
    result = cli("train", tiny_dataset, "-o", run, "--resume", "--max-steps", "4", "-q", option,
                 *([value] if value else []))
    assert result.exit_code == 1 and f"--resume: {name} = " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (run / "last.pt").read_bytes() == before
    # the run's own settings (or none given) resume it
    assert cli("train", tiny_dataset, "-o", run, "--resume", "--max-steps", "4", "-q",
               "--hidden", "16").exit_code == 0


def test_resume_compares_only_the_form_head_fields_given(tiny_dataset, tmp_path):
    """--copy-continue alone on a run with a 2-bar head that reads repeats under way: its own
    settings, so it resumes; --copy-length names a field the run lacks: refused, naming it."""
    run = tmp_path / "run"
    head = ("--lookback", "--bar-copy", "2", "--copy-continue")
    assert cli("train", tiny_dataset, "-o", run, *SMALL, *head, "--max-steps", "2",
               "--epochs", "1").exit_code == 0
    refused = cli("train", tiny_dataset, "-o", run, "--resume", "--max-steps", "4", "-q", "--copy-length")
    assert refused.exit_code == 1 and "--resume: form = " in refused.stderr
    for given in (["--copy-continue"], ["--bar-copy", "2"], []):
        assert cli("train", tiny_dataset, "-o", run, "--resume", "--max-steps", "4", "-q",
                   *given).exit_code == 0
