"""The ``melodyrnn`` command: click options -> a config dataclass -> one library call, one
module per command group; heavy imports inside commands so ``--help`` is instant."""

from melodyrnn.cli.main import main

__all__ = ["main"]
