"""Model kinds from other packages: the entry-point group ``melodyrnn.models``.

An entry point names a factory ``(input_size, hidden, layers, dropout) -> nn.Module`` whose
module follows ``torch.nn.GRU``'s batch-first interface: ``forward(x, h)`` with ``x``
(B, T, input_size) and ``h`` (layers, B, hidden) returns ``(outputs (B, T, hidden), h)``.
The kind's name is then usable wherever ``lstm`` is (``melodyrnn train --model NAME``).
"""

from __future__ import annotations

from importlib.metadata import entry_points

__all__ = ["MODEL_GROUP", "plugin_kinds", "load_core_factory", "describe_plugins"]

MODEL_GROUP = "melodyrnn.models"


def plugin_kinds() -> list[str]:
    """Names of the installed model plugins (not loaded)."""
    return sorted(ep.name for ep in entry_points(group=MODEL_GROUP))


def load_core_factory(kind: str):
    """The factory of model plugin ``kind``; ``ValueError`` if it is missing or broken."""
    found = [ep for ep in entry_points(group=MODEL_GROUP) if ep.name == kind]
    if not found:
        raise ValueError(f"unknown model kind {kind!r}")
    try:
        return found[0].load()
    except Exception as e:  # a broken plugin must not take the rest down
        raise ValueError(f"model plugin {kind!r} ({found[0].value}) failed to import: "
                         f"{type(e).__name__}: {e}".splitlines()[0]) from None


def describe_plugins() -> list[tuple[str, str, str]]:
    """(name, "DISTRIBUTION VERSION (module:attr)", error or "") of each model plugin."""
    out = []
    for ep in entry_points(group=MODEL_GROUP):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
        try:
            load_core_factory(ep.name)
            error = ""
        except ValueError as e:
            error = str(e)
        out.append((ep.name, f"{dist} ({ep.value})", error))
    return out
