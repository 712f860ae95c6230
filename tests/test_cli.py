import subprocess
import sys

from click.testing import CliRunner

from melodyrnn import __version__
from melodyrnn.cli.main import main


def test_importing_the_cli_loads_nothing_heavy():
    code = ("import sys, melodyrnn.cli.main; "
            "print(sorted(m for m in ('numpy', 'torch', 'symusic', 'tqdm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_m_and_version():
    out = subprocess.run([sys.executable, "-m", "melodyrnn", "--version"], capture_output=True,
                         text=True, check=True)
    assert __version__ in out.stdout


def test_every_listed_command_runs_its_help():
    """The commands --help lists are the group's, and each one's module imports and answers."""
    import click

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == main.list_commands(click.Context(main)) and "ingest" in listed
    for name in listed:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and result.stdout.startswith(f"Usage: main {name} "), name


def test_ingest_options_reach_the_dataset(tmp_path):
    """The options the help lists act: 20 tunes of 32 notes on a grid of 2 steps a quarter,
    a quarter of them for valid and a quarter for test under split salt 5."""
    import json

    from melodyrnn.music.midi_io import write_midi

    from tunes import motif_tune

    for i in range(20):
        write_midi(motif_tune(i), tmp_path / f"t{i}.mid")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path), "-o", str(tmp_path / "ds"), "-q",
                                       "--steps-per-quarter", "2", "--workers", "1", "--valid", "0.25",
                                       "--test", "0.25", "--seed", "5"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["encoding"]["config"]["steps_per_quarter"] == 2
    assert meta["split_fractions"] == {"valid": 0.25, "test": 0.25, "seed": 5}
    assert meta["counts"] == {"files": 20, "ok": 20, "skipped": 0, "error": 0}
    assert sum(s["notes"] for s in meta["splits"].values()) == 20 * 32
    assert all(meta["splits"][k]["sequences"] > 0 for k in ("train", "valid", "test"))


def test_bad_option_value_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["ingest", str(tmp_path), "-o", str(tmp_path / "o"),
                                       "--encoding", "mp3"])
    assert result.exit_code == 1 and "unknown encoding 'mp3'" in result.stderr
    result = CliRunner().invoke(main, ["ingest", str(tmp_path), "-o", str(tmp_path / "o"),
                                       "--min-pitch", "70", "--max-pitch", "72"])
    assert result.exit_code == 1 and "octave" in result.stderr


def test_public_api_names_are_not_shadowed_by_modules():
    import importlib
    import pkgutil

    import melodyrnn as mr

    for info in pkgutil.walk_packages(mr.__path__, "melodyrnn."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in mr.__all__:
        obj = getattr(mr, name)
        assert not type(obj).__name__ == "module", name
    assert callable(mr.train) and callable(mr.generate) and callable(mr.read_midi)


def test_cli_defaults_agree_with_the_library():
    """Each option's default is the settings function's (and so the dataclasses'), and the
    classifier's settings are the train command's."""
    import dataclasses
    import inspect

    from melodyrnn import settings
    from melodyrnn.core.classifier import ClassifyConfig
    from melodyrnn.core.trainer import TrainConfig

    def cli_default(param):
        if getattr(param, "is_flag", False):
            return param.default is True  # click may hold a sentinel for "not set"
        if param.name == "lookback_bars":
            return tuple(int(b) for b in param.default.split(","))
        return param.default

    for cmd, fn in {"ingest": settings.ingest_config, "train": settings.train_configs,
                    "generate": settings.generate_config,
                    "calibrate-form": settings.calibrate_config}.items():
        lib = {p.name: p.default for p in inspect.signature(fn).parameters.values()
               if p.kind == p.KEYWORD_ONLY}
        for p in main.commands[cmd].params:
            name = {"kind": "model"}.get(p.name, p.name)
            if name in lib:
                assert cli_default(p) == lib[name], (cmd, p.name)
    model, cfg = settings.train_configs()
    assert cfg == TrainConfig(amp=True)  # the train command's defaults are TrainConfig's
    from melodyrnn.music.form_calibration import CalibrateConfig

    assert settings.calibrate_config() == CalibrateConfig()  # calibrate-form's: the shipped recipe
    train = {p.name: cli_default(p) for p in main.commands["train"].params}
    for f in dataclasses.fields(ClassifyConfig):
        assert getattr(ClassifyConfig(), f.name) == train[f.name], f.name


def test_constants_the_cli_copies_equal_their_sources():
    """The CLI keeps a few names to stay import-light; they must not drift."""
    from melodyrnn.cli import live as cli_live
    from melodyrnn.live import engine

    assert cli_live.ACTIONS == engine.ACTIONS
