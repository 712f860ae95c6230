"""Find encodings by name: the built-in ones plus plugins.

A third-party package registers an :class:`~melodyrnn.encodings.base.Encoding` subclass
under the entry-point group ``melodyrnn.encodings``; it is then usable everywhere a name
is (``melodyrnn ingest --encoding NAME``) and is rebuilt from a dataset's or checkpoint's
plain-JSON description by :func:`encoding_from_dict`.
"""

from __future__ import annotations

from dataclasses import fields
from importlib.metadata import entry_points

from .base import Encoding
from .melody import MelodyEncoding
from .performance import PerformanceEncoding

__all__ = ["available_encodings", "get_encoding", "encoding_from_dict"]

ENTRY_POINT_GROUP = "melodyrnn.encodings"


BUILT_IN = (MelodyEncoding, PerformanceEncoding)


def available_encodings() -> dict[str, type[Encoding]]:
    """Name -> encoding class, built-ins first, then installed plugins."""
    found: dict[str, type[Encoding]] = {c.name: c for c in BUILT_IN}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


def get_encoding(name: str, **config) -> Encoding:
    """An encoding by name with config overrides; ``ValueError`` for unknown names/options."""
    built_in = {c.name: c for c in BUILT_IN}
    classes = built_in if name in built_in else available_encodings()  # plugins only if needed
    if name not in classes:
        raise ValueError(f"unknown encoding {name!r}; choose from {', '.join(sorted(classes))}")
    cls = classes[name]
    known = {f.name for f in fields(cls.config_class)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"encoding {name!r} has no option {', '.join(unknown)}")
    return cls(cls.config_class(**config))


def encoding_from_dict(d: dict) -> Encoding:
    """Rebuild an encoding from :meth:`Encoding.to_dict` output."""
    return get_encoding(d["name"], **d.get("config", {}))
