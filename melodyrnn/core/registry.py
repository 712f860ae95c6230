"""Find encodings by name: the built-in ones plus plugins.

A third-party package registers an :class:`~melodyrnn.core.encoding.Encoding` subclass
under the entry-point group ``melodyrnn.encodings``; it is then usable everywhere a name
is (``melodyrnn ingest --encoding NAME``) and is rebuilt from a dataset's or checkpoint's
plain-JSON description by :func:`encoding_from_dict`.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass, fields
from importlib.metadata import entry_points

from melodyrnn.core.encoding import Encoding

__all__ = ["available_encodings", "encoding_class", "get_encoding", "encoding_from_dict", "Plugin", "plugins"]

ENTRY_POINT_GROUP = "melodyrnn.encodings"


#: the built-in encodings, declared like entry points ("module:class") so that the core
#: names them without importing music or text; each loads on first use
BUILT_IN = {
    "melody": "melodyrnn.music.encodings.melody:MelodyEncoding",
    "performance": "melodyrnn.music.encodings.performance:PerformanceEncoding",
    "chorale": "melodyrnn.music.encodings.chorale:ChoraleEncoding",
    "char": "melodyrnn.text.encodings:CharEncoding",
    "word": "melodyrnn.text.encodings:WordEncoding",
    "tokens": "melodyrnn.text.encodings:TokensEncoding",
}


def _built_in(name: str) -> type[Encoding]:
    module, _, attr = BUILT_IN[name].partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Plugin:
    """One entry of ``melodyrnn plugins``: what it adds, where from, and whether it loads."""

    group: str
    name: str
    source: str  # "built-in", or "DISTRIBUTION VERSION (module:attr)"
    error: str = ""  # why it failed to load ("" when it loads)


def plugins() -> list[Plugin]:
    """The built-in encodings and every installed plugin, loaded to check them."""
    out = [Plugin(ENTRY_POINT_GROUP, name, "built-in") for name in BUILT_IN]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
        try:
            ep.load()
            error = ""
        except Exception as e:  # a broken plugin must not break melodyrnn
            error = f"{type(e).__name__}: {e}".splitlines()[0]
        out.append(Plugin(ENTRY_POINT_GROUP, ep.name, f"{dist} ({ep.value})", error))
    return out


def available_encodings() -> dict[str, type[Encoding]]:
    """Name -> encoding class, built-ins first, then installed plugins; a plugin that fails
    to import is left out with a warning naming it."""
    found: dict[str, type[Encoding]] = {name: _built_in(name) for name in BUILT_IN}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as e:  # a broken plugin must not break melodyrnn
            warnings.warn(f"encoding plugin {ep.name!r} ({ep.value}) failed to import: "
                          f"{type(e).__name__}: {e}".splitlines()[0], stacklevel=2)
    return found


def encoding_class(name: str) -> type[Encoding]:
    """The encoding class registered as ``name``; ``ValueError`` for an unknown name."""
    if name in BUILT_IN:
        return _built_in(name)
    classes = available_encodings()  # plugins only if needed
    if name not in classes:
        raise ValueError(f"unknown encoding {name!r}; choose from {', '.join(sorted(classes))}")
    return classes[name]


def get_encoding(name: str, **config) -> Encoding:
    """An encoding by name with config overrides; ``ValueError`` for unknown names/options."""
    cls = encoding_class(name)
    known = {f.name for f in fields(cls.config_class)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"encoding {name!r} has no option {', '.join(unknown)}")
    try:
        settings = cls.config_class(**config)
    except ValueError as e:  # a config checks its own settings (music: melodyrnn.music.limits)
        raise ValueError(f"bad settings for the {name} encoding: {e}") from None
    return cls(settings)


def encoding_from_dict(d: dict) -> Encoding:
    """Rebuild an encoding from :meth:`Encoding.to_dict` output.

    Raises
    ------
    ValueError
        For a dict that does not describe an encoding (unknown name, bad settings).
    """
    if not isinstance(d, dict) or not isinstance(d.get("name"), str) \
            or not isinstance(d.get("config", {}), dict):
        raise ValueError("an encoding is a dict with a name and a config dict")
    try:
        return get_encoding(d["name"], **d.get("config", {}))
    except TypeError as e:
        raise ValueError(f"bad settings for the {d['name']} encoding: {str(e).split(') ', 1)[-1]}") from None
