"""What this installation is: the library's version, and whether the ``train`` extra is there.

Sampling, the studio and live play run on numpy; training, evaluation, classification,
fine-tuning and beam search need torch, which only ``pip install 'melodyrnn[train]'`` brings.
:func:`require_torch` is the one check every such entry point makes, so a user without torch
reads one line saying what to install instead of an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib.util

__all__ = ["__version__", "require_torch", "TORCH_HINT"]

__version__ = "0.1.0"

#: how to get torch, said by every command that needs it
TORCH_HINT = "pip install 'melodyrnn[train]'"


def require_torch(what: str):
    """Import torch for ``what`` (a command or task, e.g. ``"train"``) and return it.

    Raises
    ------
    ValueError
        ``"{what} needs torch: pip install 'melodyrnn[train]'"`` when torch is not installed.
    """
    try:
        import torch
    except ImportError:
        raise ValueError(f"{what} needs torch: {TORCH_HINT}") from None
    return torch


def has_torch() -> bool:
    """Whether torch is installed (found, not imported: the check costs no import)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except ValueError:  # a torch module in sys.modules without a spec
        return True
