"""melodyrnn: learn music from MIDI collections with recurrent networks, and write new music.

The package imports nothing heavy on ``import melodyrnn``; the public API below is
loaded on first use.
"""

from __future__ import annotations

import importlib

from melodyrnn.core.install import __version__, needs_torch, torch_missing

_API = {
    "Note": "music.notes", "Track": "music.notes", "Tune": "music.notes",
    "TempoChange": "music.notes", "TimeSignature": "music.notes", "KeySignature": "music.notes",
    "read_midi": "music.midi_io", "read_midi_bytes": "music.midi_io", "write_midi": "music.midi_io",
    "to_pretty_midi": "music.midi_io", "from_pretty_midi": "music.midi_io",
    "ExtractConfig": "music.quantize", "Melody": "music.quantize",
    "extract_melodies": "music.quantize",
    "Vocabulary": "core.vocab",
    "get_encoding": "core.registry", "encoding_from_dict": "core.registry",
    "plugins": "core.registry",
    "MelodyEncoding": "music.encodings.melody", "MelodyConfig": "music.encodings.melody",
    "PerformanceEncoding": "music.encodings.performance",
    "PerformanceConfig": "music.encodings.performance",
    "ChoraleEncoding": "music.encodings.chorale", "ChoraleConfig": "music.encodings.chorale",
    "load_dataset": "core.dataset", "Dataset": "core.dataset", "describe": "core.dataset",
    "IngestConfig": "music.ingest.build", "run_ingest": "music.ingest.build",
    "merge_shards": "core.shards",
    "ModelConfig": "core.models",
    "TrainConfig": "core.trainer",
    "train": "core.tasks", "evaluate": "core.tasks", "score_files": "core.tasks",
    "load": "core.tasks", "save": "core.tasks", "score": "core.tasks",
    "load_checkpoint": "core.checkpoint",
    "GenerateConfig": "music.compose", "generate": "music.compose",
    "DecodeConfig": "core.continuation",
    "SamplingConfig": "core.sampling",
    "load_pipeline": "pipeline.plan", "run_pipeline": "pipeline.plan",
    "evaluate_samples": "music.sample_eval", "compare_sets": "music.sample_eval",
    "markdown_table": "music.sample_eval",
    "piece_features": "music.features",
    "ingest_config": "settings", "train_configs": "settings", "generate_config": "settings",
    "ingest": "settings",
    "CharEncoding": "text.encodings", "WordEncoding": "text.encodings",
    "TokensEncoding": "text.encodings",
    "TextIngestConfig": "text.corpus", "ingest_text": "text.corpus",
    "dataset_from_sequences": "text.corpus", "complete_text": "text.corpus",
    "ClassifyConfig": "core.classifier",
    "train_classifier": "core.labels", "classify_files": "core.labels",
    "evaluate_classifier": "core.labels",
    "discover": "music.ingest.files",
    "piano_roll_png": "music.render", "render_wav": "music.render",
    "check_wav_renderer": "music.render", "write_outputs": "music.outputs",
    "write_report": "pipeline.report",
    "describe_plugins": "core.models.plugins",
    "LiveConfig": "live.engine", "LiveEngine": "live.engine", "ModelResponder": "live.engine",
    "open_ports": "live.ports", "port_names": "live.ports", "run_engine": "live.ports",
}

__all__ = ["__version__", *_API]


def __dir__() -> list[str]:
    """The public API with the module's own names, so that notebooks tab-complete on it."""
    return sorted({*globals(), *_API})


def __getattr__(name: str):
    if name in _API:
        try:
            module = importlib.import_module(f".{_API[name]}", __name__)
        except ModuleNotFoundError as e:  # train, evaluate... without the train extra
            if not torch_missing(e):
                raise
            raise ImportError(needs_torch(f"melodyrnn.{name}")) from None
        return getattr(module, name)
    raise AttributeError(f"module 'melodyrnn' has no attribute {name!r}")
