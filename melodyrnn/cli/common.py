"""What the command modules share: the clean-failure decorator, the one-line group and a
float option type that refuses NaN and infinity."""

from __future__ import annotations

import functools
import math
import sys

import click

from melodyrnn.core.install import needs_torch, torch_missing

__all__ = ["fail_cleanly", "OneLineGroup", "FiniteFloatRange"]


class FiniteFloatRange(click.FloatRange):
    """click's ``FloatRange`` that also refuses ``nan`` and ``inf``: NaN compares false with
    every bound, so a plain range lets it through (and ``inf`` past an open top)."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


class OneLineGroup(click.Group):
    """A command group whose usage errors are one line on stderr (``Error: ...`` and where
    to find help), not click's usage block; exit codes stay click's (2 for usage)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else (prog_name or "melodyrnn")
            click.echo(f"Error: {e.format_message()} (see: {where} --help)", err=True)
            return _leave(e.exit_code, standalone_mode)
        except click.ClickException as e:
            e.show()
            return _leave(e.exit_code, standalone_mode)
        except click.Abort:
            click.echo("Aborted!", err=True)
            return _leave(1, standalone_mode)
        return _leave(rv if isinstance(rv, int) else 0, standalone_mode)


def _leave(code: int, standalone: bool):
    if standalone:
        sys.exit(code)
    return code


def fail_cleanly(fn):
    """Turn ValueError/OSError from the library into a one-line error and exit 1; a command
    that needs torch where it is not installed says so (and how to get it) in one line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, OSError) as e:
            raise click.ClickException(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
        except ModuleNotFoundError as e:
            if not torch_missing(e):
                raise
            raise click.ClickException(needs_torch(click.get_current_context().command_path)) from None
    return wrapper
