import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint
from melodyrnn.cli.main import main
from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.scoring import score_split

SMALL = ["--hidden", "32", "--layers", "1", "--embedding", "16", "--batch-size", "8",
         "--seq-len", "32", "--warmup", "5", "-q"]


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("model", [["--model", "lstm"], ["--model", "attention", "--lookback",
                                                          "--attention-length", "8"]])
def test_training_learns_and_writes_a_run(tiny_dataset, tmp_path, model):
    run = tmp_path / "run"
    result = cli("train", tiny_dataset, "-o", run, *SMALL, *model, "--epochs", "4",
                 "--lr", "1e-2", "--transpose", "2")
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) >= 2
    for key in ("nats_per_event", "bits_per_note", "perplexity", "accuracy", "event_accuracy"):
        assert key in lines[-1]["valid"]
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    # an untrained model of the same config scores far worse than the trained one
    ckpt = load_checkpoint(run / "best.pt")
    fresh = model_from_checkpoint(ckpt)
    for p in fresh.parameters():
        torch.nn.init.normal_(p, std=0.01)
    untrained, _ = score_split(fresh, load_dataset(tiny_dataset).split("valid"))
    assert best["bits_per_note"] < 0.6 * untrained.result()["bits_per_note"]
    assert best["event_accuracy"] > 0.2
    # the checkpoint alone evaluates: carries encoding, vocabulary, configs, metrics
    assert ckpt["encoding"]["name"] == "melody" and len(ckpt["vocab"]["tokens"]) == 133
    assert ckpt["train_config"]["augment"] == {"transpose": 2} and ckpt["metrics"] == best
    out = cli("evaluate", run / "best.pt", tiny_dataset, "--split", "valid")
    assert out.exit_code == 0
    assert json.loads(out.stdout)["bits_per_note"] == pytest.approx(best["bits_per_note"])
    midi = tiny_dataset.parent / "midi"
    out = json.loads(cli("evaluate", run / "best.pt", midi).stdout)
    assert out["files"] == 60 and out["sequences"] == 60 and out["notes"] == 60 * 32


def final_weights(run: Path) -> dict:
    return load_checkpoint(run / "last.pt")["model_state"]


def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny_dataset, tmp_path):
    args = ["train", str(tiny_dataset), *SMALL, "--epochs", "3", "--dropout", "0.2",
            "--layers", "2", "--transpose", "2", "--checkpoint-every", "4", "--patience", "0",
            "--eval-every", "10", "--seed", "3"]
    cmd = [sys.executable, "-m", "melodyrnn"]
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(cmd + args + ["-o", str(whole)], check=True, capture_output=True)
    total = load_checkpoint(whole / "last.pt")["training"]["global_step"]
    proc = subprocess.Popen(cmd + args + ["-o", str(broken)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill -9 as soon as a mid-run checkpoint exists
        if (broken / "last.pt").is_file():
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(broken / "last.pt")["training"]["global_step"]
    assert 0 < killed_at < total
    subprocess.run(cmd + args + ["-o", str(broken), "--resume"], check=True,
                   capture_output=True)
    a, b = final_weights(whole), final_weights(broken)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [json.loads(x)["step"] for x in (broken / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # no evaluation logged twice


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {Evil.marker}",))


def test_checkpoint_that_would_run_code_is_refused(tmp_path, tiny_dataset):
    Evil.marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pt"
    torch.save({"format": 1, "model_config": {}, "model_state": {}, "x": Evil()}, bad)
    with pytest.raises(ValueError, match="refused to load"):
        load_checkpoint(bad)
    result = CliRunner().invoke(main, ["evaluate", str(bad), str(tiny_dataset)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:") and "refused to load" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Evil.marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_fine_tune_from_a_checkpoint(tiny_dataset, tmp_path):
    assert cli("train", tiny_dataset, "-o", tmp_path / "a", *SMALL, "--max-steps", "5"
               ).exit_code == 0
    result = cli("train", tiny_dataset, "-o", tmp_path / "b", *SMALL, "--max-steps", "5",
                 "--init-from", tmp_path / "a" / "best.pt", "--hidden", "999")
    assert result.exit_code == 0
    assert load_checkpoint(tmp_path / "b" / "best.pt")["model_config"]["hidden"] == 32


def test_elman_rnn_trains_fused_and_unfused(tiny_dataset, tmp_path):
    for flag in ([], ["--unfused"]):
        result = cli("train", tiny_dataset, "-o", tmp_path / f"rnn{len(flag)}", *SMALL,
                     "--model", "rnn", "--max-steps", "4", "--seed", "1", *flag)
        assert result.exit_code == 0
    a = final_weights(tmp_path / "rnn0")
    b = final_weights(tmp_path / "rnn1")
    for k in a:  # the same equations: fused and written-out runs agree
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-4)


def test_two_processes_under_torchrun(tiny_dataset, tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29531",
                           "-m", "melodyrnn", "train", str(tiny_dataset), "-o", str(run),
                           *SMALL, "--max-steps", "8", "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["training"]["global_step"] == 8
    assert json.loads(proc.stdout.strip().splitlines()[-1])["sequences"] > 0


def test_bad_training_input_is_a_clean_error(tiny_dataset, tmp_path):
    result = CliRunner().invoke(main, ["train", str(tiny_dataset), "-o", str(tmp_path / "r"),
                                       "--resume"])
    assert result.exit_code == 1 and "no " in result.stderr and "last.pt" in result.stderr
    result = CliRunner().invoke(main, ["train", str(tmp_path), "-o", str(tmp_path / "r")])
    assert result.exit_code == 1 and "not a dataset folder" in result.stderr
