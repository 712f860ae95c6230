"""Run the studio: a threaded werkzeug server around :func:`melodyrnn.studio.app.create_app`.

The server bounds what connections cost: at most :data:`MAX_CONNECTIONS` are served at once
(each has a thread; one more is answered 503 and closed at once), a connection that sends
nothing for :data:`IDLE_SECONDS` is closed, and a request whose line, headers and body take
longer than :data:`READ_SECONDS` to arrive is dropped (a client trickling a byte now and then
holds its thread no longer). Errors the HTTP layer answers itself (a header line too long, a
malformed request line) are one-line JSON like the app's.
"""

from __future__ import annotations

import io
import json
import signal
import socket
import threading
import time
from http import HTTPStatus

from melodyrnn.studio.app import _flask, create_app
from melodyrnn.studio.guard import TOKEN_HEADER, allowed_for
from melodyrnn.studio.session import Studio, StudioConfig

__all__ = ["serve", "start", "MAX_CONNECTIONS", "IDLE_SECONDS", "READ_SECONDS"]

MAX_CONNECTIONS = 32  # connections served at once, each on its own thread
IDLE_SECONDS = 20.0  # a connection silent this long (seconds) is closed
READ_SECONDS = 60.0  # a request's line, headers and body must arrive within this (seconds)


class _Arrival(io.RawIOBase):
    """A connection's bytes, each request's due within ``seconds`` of its start (:meth:`restart`):
    every read waits at most what is left (and at most ``idle``), then the read fails with
    ``TimeoutError``; the socket's own timeout is ``idle`` again after each read."""

    def __init__(self, sock: socket.socket, idle: float, seconds: float) -> None:
        super().__init__()
        self.sock, self.idle, self.seconds = sock, idle, seconds
        self.restart()

    def restart(self) -> None:
        self.until = time.monotonic() + self.seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.until - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request did not arrive within {self.seconds:g} s")
        if left >= self.idle:  # the socket's own idle timeout is the tighter bound
            return self.sock.recv_into(buffer)
        self.sock.settimeout(left)
        try:
            return self.sock.recv_into(buffer)
        finally:
            self.sock.settimeout(self.idle)


def _server_classes():
    from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        timeout = IDLE_SECONDS  # socket timeout: an idle or stalled connection ends
        arrival = READ_SECONDS

        def setup(self):
            super().setup()
            self.rfile = io.BufferedReader(_Arrival(self.connection, self.timeout, self.arrival))

        def handle_one_request(self):
            self.rfile.raw.restart()  # the next request's clock starts when we wait for it
            super().handle_one_request()

        def send_error(self, code, message=None, explain=None):
            """http.server's own errors (431, 400...) as one-line JSON, not an HTML page."""
            phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "error"
            body = json.dumps({"error": f"{phrase}: {message}" if message else phrase}).encode()
            self.log_error("code %d, message %s", code, message)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)

    class Server(ThreadedWSGIServer):
        """At most :data:`MAX_CONNECTIONS` connections on threads; the rest get a 503."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

        def process_request(self, request, client_address):
            if not self.slots.acquire(blocking=False):
                _busy(request)
                self.shutdown_request(request)
                return
            try:
                super().process_request(request, client_address)
            except BaseException:
                self.slots.release()
                raise

        def process_request_thread(self, request, client_address):
            try:
                super().process_request_thread(request, client_address)
            finally:
                self.slots.release()

    return Server, Handler


def _busy(request: socket.socket) -> None:
    body = json.dumps({"error": f"the studio serves {MAX_CONNECTIONS} connections at once; "
                                "try again"}).encode()
    try:
        request.settimeout(1.0)
        request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    except OSError:
        pass


def start(cfg: StudioConfig, host: str = "127.0.0.1", port: int = 0):
    """(server, studio) with the server answering in a background thread; ``server.port``
    is the port bound (``port`` 0: a free one). Stop with ``server.shutdown()`` and
    ``studio.close()``."""
    _flask()
    _check_free(host, port)  # werkzeug would print its own lines and exit instead
    studio = Studio(cfg)
    app = create_app(studio)
    server_class, handler = _server_classes()
    server = server_class(host, port, app, handler=handler)
    app.config["STUDIO_ALLOWED"] = allowed_for(host, server.port)
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


class _Stop(Exception):
    """SIGTERM, raised in the main thread so that the session's folder is removed."""


def _on_sigterm(signum, frame):
    raise _Stop()


def serve(cfg: StudioConfig, host: str = "127.0.0.1", port: int = 8000, log=print) -> None:
    """Serve until Ctrl-C or SIGTERM (either stops the generation under way and removes the
    session's folder); the URL, the models and the token go to ``log``."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
    server = studio = None
    try:
        server, studio = start(cfg, host, port)
        shown = f"[{host}]" if ":" in host else host
        log(f"melodyrnn studio: http://{shown}:{server.port}/  (models: "
            f"{', '.join(studio.model_names())}; Ctrl-C stops)")
        log(f"scripts: POSTs carry the header '{TOKEN_HEADER}: {studio.token}' (GET /api/info has it)")
        threading.Event().wait()
    except (KeyboardInterrupt, _Stop):
        log("stopped")
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.shutdown()
            server.server_close()
        if studio is not None:
            studio.close()
