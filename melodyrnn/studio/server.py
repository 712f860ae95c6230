"""Run the studio: a threaded werkzeug server around :func:`melodyrnn.studio.app.create_app`."""

from __future__ import annotations

import socket
import threading

from melodyrnn.studio.app import _flask, create_app
from melodyrnn.studio.session import Studio, StudioConfig

__all__ = ["serve", "start"]


def start(cfg: StudioConfig, host: str = "127.0.0.1", port: int = 0):
    """(server, studio) with the server answering in a background thread; ``server.port``
    is the port bound (``port`` 0: a free one). Stop with ``server.shutdown()`` and
    ``studio.close()``."""
    _flask()
    from werkzeug.serving import make_server

    _check_free(host, port)  # werkzeug would print its own lines and exit instead
    studio = Studio(cfg)
    server = make_server(host, port, create_app(studio), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="studio").start()
    return server, studio


def _check_free(host: str, port: int) -> None:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def serve(cfg: StudioConfig, host: str = "127.0.0.1", port: int = 8000, log=print) -> None:
    """Serve until Ctrl-C; the URL and the models go to ``log``."""
    server, studio = start(cfg, host, port)
    log(f"melodyrnn studio: http://{host}:{server.port}/  (models: {', '.join(studio.model_names())}; "
        "Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        log("stopped")
    finally:
        server.shutdown()
        studio.close()
