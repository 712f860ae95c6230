"""``melodyrnn studio``: serve the local web page and JSON API (the ``studio`` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from melodyrnn.cli.common import FiniteFloatRange, fail_cleanly

__all__ = ["studio"]


def _default_samples() -> str | None:
    """The checkout's ``samples/`` folder, when the package runs from one."""
    import melodyrnn

    folder = Path(melodyrnn.__file__).resolve().parent.parent / "samples"
    return str(folder) if folder.is_dir() else None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; the default lets only this machine in. Another "
                   "(0.0.0.0: every interface) lets whoever reaches it drive the studio and "
                   "read its history: see the README's studio section.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port (0: any free one; the URL goes to stderr).")
@click.option("--model", "checkpoint", default=None, type=click.Path(dir_okay=False),
              help="A checkpoint of your own: the model requests get unless they name one "
                   "('custom'; the shipped 'default' and 'chorale' stay available).")
@click.option("--samples", type=click.Path(file_okay=False), default=None,
              help="Folder of seed tunes the page lists [the checkout's samples/].")
@click.option("--soundfont", type=click.Path(dir_okay=False), default=None,
              help="General MIDI SoundFont for the audio [$MELODYRNN_SOUNDFONT or the system's].")
@click.option("--max-upload-mb", type=FiniteFloatRange(0.01, 32), default=4.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed the page's seed field starts at (each request carries its own).")
@fail_cleanly
def studio(host, port, checkpoint, samples, soundfont, max_upload_mb, seed) -> None:
    """Serve a page to open a seed, generate, listen and download; plus a JSON API
    (POST /api/generate, GET /api/health). Scripts send the token it prints in the
    X-Melodyrnn-Token header. Ctrl-C or SIGTERM stops it."""
    from melodyrnn.studio.server import serve
    from melodyrnn.studio.session import StudioConfig

    if checkpoint is not None and not Path(checkpoint).is_file():
        raise click.BadParameter(f"{checkpoint}: no such checkpoint", param_hint="--model")
    cfg = StudioConfig(model=checkpoint, samples=samples or _default_samples(), soundfont=soundfont,
                       max_upload_bytes=int(max_upload_mb * 2 ** 20), first_seed=seed)
    serve(cfg, host, port, log=lambda msg: click.echo(msg, err=True))
