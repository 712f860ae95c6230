"""The flat module paths of melodyrnn 0.1 (``melodyrnn.notes``, ``melodyrnn.encodings.base``...)
as deprecated aliases of their homes in the layer packages, so that plugins and scripts
written against them keep working. Importing one warns once with its new path."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

__all__ = ["MOVED", "install"]

_PREFIX = "melodyrnn."

#: old module -> its new home(s); names are looked up in each in turn
MOVED: dict[str, tuple[str, ...]] = {
    "atomic": ("core.atomic",), "inputs": ("core.inputs",), "vocab": ("core.vocab",),
    "dataset": ("core.dataset",), "batching": ("core.batching",), "metrics": ("core.metrics",),
    "sampling": ("core.sampling",), "beam": ("core.beam",), "checkpoint": ("core.checkpoint",),
    "finetune": ("core.finetune",), "trainer": ("core.trainer",), "scoring": ("core.scoring",),
    "classifier": ("core.classifier",), "continuation": ("core.continuation",),
    "loading": ("core.loading",), "shards": ("core.shards",), "tasks": ("core.tasks",),
    "labels": ("core.labels",), "models": ("core.models",),
    "models.plugins": ("core.models.plugins",), "models.config": ("core.models.config",),
    "models.elman": ("core.models.elman",), "models.attention": ("core.models.attention",),
    "models.barcopy": ("core.models.barcopy",), "models.network": ("core.models.network",),
    "notes": ("music.notes",), "midi_scan": ("music.midi_scan",), "midi_io": ("music.midi_io",),
    "quantize": ("music.quantize",), "keys": ("music.keys",), "copies": ("music.copies",),
    "structure": ("music.structure",), "tracks": ("music.tracks",), "seeds": ("music.seeds",),
    "features": ("music.features",), "render": ("music.render",), "compose": ("music.compose",),
    "sample_eval": ("music.sample_eval",), "continuations": ("music.continuations",),
    "encodings": ("music.encodings", "text.encodings", "core.registry", "core.encoding"),
    "encodings.base": ("music.encodings.base", "core.encoding"),
    "encodings.melody": ("music.encodings.melody",),
    "encodings.performance": ("music.encodings.performance",),
    "encodings.text": ("text.encodings",), "encodings.registry": ("core.registry",),
    "ingest": ("music.ingest.build", "music.ingest.files"), "ingest_worker": ("music.ingest.worker",),
    "ingest_cache": ("music.ingest.cache",), "ingest_pool": ("music.ingest.pool",),
    "stages": ("pipeline.stages",), "report": ("pipeline.report",), "live_ports": ("live.ports",),
}
#: names that changed with the move: 0.1's music-only ``Encoding`` is ``MusicEncoding``
_RENAMED = {("encodings.base", "Encoding"): "MusicEncoding"}
_PACKAGES = {"models", "encodings"}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        old = fullname[len(_PREFIX):] if fullname.startswith(_PREFIX) else None
        return importlib.util.spec_from_loader(fullname, self) if old in MOVED else None

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module) -> None:
        old = module.__name__[len(_PREFIX):]
        homes = [_PREFIX + h for h in MOVED[old]]
        warnings.warn(f"{module.__name__} is deprecated: import from {' or '.join(homes)}",
                      DeprecationWarning, stacklevel=2)

        def __getattr__(name: str):
            name = _RENAMED.get((old, name), name)
            for home in homes:
                found = importlib.import_module(home)
                if hasattr(found, name):
                    return getattr(found, name)
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

        module.__getattr__ = __getattr__
        if old in _PACKAGES:
            module.__path__ = []


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once); the real modules always win."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
