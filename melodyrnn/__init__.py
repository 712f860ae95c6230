"""melodyrnn: learn music from MIDI collections with recurrent networks, and write new music.

The package imports nothing heavy on ``import melodyrnn``; the public API below is
loaded on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "Note": "notes", "Track": "notes", "Tune": "notes", "TempoChange": "notes",
    "TimeSignature": "notes", "KeySignature": "notes",
    "read_midi": "midi_io", "read_midi_bytes": "midi_io", "write_midi": "midi_io",
    "to_pretty_midi": "midi_io", "from_pretty_midi": "midi_io",
    "ExtractConfig": "quantize", "Melody": "quantize", "extract_melodies": "quantize",
    "Vocabulary": "vocab",
    "get_encoding": "encodings", "encoding_from_dict": "encodings",
    "MelodyEncoding": "encodings", "MelodyConfig": "encodings",
    "PerformanceEncoding": "encodings", "PerformanceConfig": "encodings",
    "load_dataset": "dataset", "Dataset": "dataset",
    "IngestConfig": "ingest", "run_ingest": "ingest", "merge_shards": "shards",
    "ModelConfig": "models", "TrainConfig": "trainer", "train": "tasks", "evaluate": "tasks",
    "score_files": "tasks", "load_checkpoint": "checkpoint",
    "GenerateConfig": "compose", "generate": "compose", "DecodeConfig": "continuation",
    "SamplingConfig": "sampling",
    "load_pipeline": "pipeline", "run_pipeline": "pipeline",
    "evaluate_samples": "sample_eval", "compare_sets": "sample_eval", "piece_features": "features",
    "ingest_config": "settings", "train_configs": "settings", "generate_config": "settings",
    "CharEncoding": "encodings", "WordEncoding": "encodings", "TokensEncoding": "encodings.text",
    "TextIngestConfig": "text", "ingest_text": "text", "dataset_from_sequences": "text",
    "complete_text": "text", "load": "tasks", "save": "tasks", "score": "tasks",
    "ClassifyConfig": "classifier", "train_classifier": "labels", "classify_files": "labels",
    "evaluate_classifier": "labels",
    "describe": "dataset", "discover": "ingest", "piano_roll_png": "render", "render_wav": "render",
    "check_wav_renderer": "render", "markdown_table": "sample_eval", "write_report": "report",
    "plugins": "encodings.registry", "describe_plugins": "models.plugins",
    "LiveConfig": "live", "LiveEngine": "live", "ModelResponder": "live",
    "open_ports": "live_ports", "port_names": "live_ports", "run_engine": "live_ports",
}

__all__ = ["__version__", *_API]


def __dir__() -> list[str]:
    """The public API with the module's own names, so that notebooks tab-complete on it."""
    return sorted({*globals(), *_API})


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'melodyrnn' has no attribute {name!r}")
