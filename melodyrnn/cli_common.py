"""What the command modules share: the clean-failure decorator."""

from __future__ import annotations

import functools

import click

__all__ = ["fail_cleanly"]


def fail_cleanly(fn):
    """Turn ValueError/OSError from the library into a one-line error and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, OSError) as e:
            raise click.ClickException(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    return wrapper
