"""The project's rule for a CLI error, as tests check it: one line on stderr, a non-zero exit,
never a traceback."""

from click.testing import CliRunner

from melodyrnn.cli.main import main


def one_line_error(args) -> str:
    """Run the CLI with ``args`` and return its error: a non-zero exit, no traceback, one line."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, (TypeError, KeyError, RuntimeError, AttributeError))
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr  # usage errors too: no usage block
    return lines[0]
