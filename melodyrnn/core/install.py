"""What this installation is: the library's version, and whether the ``train`` extra is there.

Sampling, the studio and live play run on numpy; training, evaluation, classification,
fine-tuning and beam search need torch, which only ``pip install 'melodyrnn[train]'`` brings.
:func:`needs_torch` is the one line that says so: :func:`require_torch` raises it where the
library imports torch on demand (beam search, models only torch runs), and the command line
(``cli.common.fail_cleanly``) and the public API (``melodyrnn.__getattr__``) turn a failed
import of torch into it, so a user without torch reads what to install, not a traceback.
"""

from __future__ import annotations

__all__ = ["__version__", "require_torch", "needs_torch", "torch_missing", "TORCH_HINT"]

__version__ = "0.1.0"

#: how to get torch, said by every command that needs it
TORCH_HINT = "pip install 'melodyrnn[train]'"


def needs_torch(what: str) -> str:
    """The one line that says ``what`` (a command or task) needs torch, and how to get it."""
    return f"{what} needs torch: {TORCH_HINT}"


def torch_missing(error: BaseException) -> bool:
    """Whether ``error`` is the import of torch (or a torch submodule) failing for want of it."""
    return isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "torch"


def require_torch(what: str):
    """Import torch for ``what`` (a command or task, e.g. ``"beam search"``) and return it.

    Raises
    ------
    ValueError
        ``"{what} needs torch: pip install 'melodyrnn[train]'"`` when torch is not installed.
    """
    try:
        import torch
    except ModuleNotFoundError as e:
        if not torch_missing(e):
            raise
        raise ValueError(needs_torch(what)) from None
    return torch
