"""The studio's HTTP side: the page, and a JSON API for scripts and DAW integrations.

====================  =========================================================================
``GET /``             the page (``static/``: HTML, JS and CSS of its own, nothing from a CDN)
``GET /api/health``   ``{"ok": true}``
``GET /api/info``     models, sample seeds, whether audio can be rendered, the default options,
                      the token POSTs carry
``POST /api/seeds``   multipart ``midi`` (a file) or form ``sample`` (a name): the seed's id,
                      tracks with the melody choice, the model it gets, its piano roll
``POST /api/generate``  optional multipart ``midi``, or ``seed_id``; the ``melodyrnn generate``
                      options as form fields (``num_outputs`` or ``num-outputs``, ``bars``...):
                      ``{"outputs": [...]}``, each with ``midi_url``, ``audio_url``,
                      ``midi_base64``, ``bits_per_note`` and its piano roll
``GET /api/history``  the session's generations (time, label, outputs without their MIDI bytes),
                      oldest first
``GET /api/outputs/ID.mid`` / ``.wav``  an output's MIDI, or its audio (FluidSynth)
====================  =========================================================================

Bad input is a 4xx whose JSON body is ``{"error": "one line"}``; nothing answers with a
traceback. Who may ask is :mod:`.guard`'s: the served Host only, and POSTs from the studio's
own page or a script with its token, as complete ``multipart/form-data``. Needs Flask:
``pip install 'melodyrnn[studio]'``.
"""

from __future__ import annotations

import select
import socket
from pathlib import Path

from melodyrnn.studio.forms import parse_form
from melodyrnn.studio.guard import Allowed, allowed_for, refusal
from melodyrnn.studio.session import Output, Refused, Studio

__all__ = ["create_app", "INSTALL"]

INSTALL = "melodyrnn studio needs Flask: pip install 'melodyrnn[studio]'"
STATIC = Path(__file__).parent / "static"


def _flask():
    try:
        import flask
    except ImportError:
        raise ValueError(INSTALL) from None
    return flask


def create_app(studio: Studio, allowed: Allowed | None = None):
    """A Flask app serving ``studio``'s page and API to the Host names ``allowed`` (None:
    the loopback names on any port; :func:`melodyrnn.studio.server.start` gives the address
    it binds, port included, through ``app.config["STUDIO_ALLOWED"]``)."""
    flask = _flask()
    from werkzeug.exceptions import HTTPException

    class Request(flask.Request):
        def make_form_data_parser(self):  # a cut-short or malformed body is an error, not {}
            parser = super().make_form_data_parser()
            parser.silent = False
            return parser

    app = flask.Flask("melodyrnn.studio", static_folder=str(STATIC), static_url_path="/static")
    app.request_class = Request
    # the upload cap, plus room for the other form fields
    app.config["MAX_CONTENT_LENGTH"] = studio.cfg.max_upload_bytes + 64 * 1024
    app.config["STUDIO_ALLOWED"] = allowed or allowed_for("127.0.0.1", None)

    def fail(status: int, message: str):
        line = message.splitlines()[0] if message else "bad request"
        return flask.jsonify({"error": line}), status

    @app.errorhandler(HTTPException)
    def http_error(e):
        if e.code == 413:
            return fail(413, f"upload too large: at most {studio.cfg.max_upload_bytes // 2 ** 20} MiB")
        return fail(e.code or 500, e.description or e.name)

    @app.errorhandler(ValueError)
    def bad_input(e):
        return fail(400, str(e))

    @app.errorhandler(Refused)
    def refused(e):
        return fail(e.status, str(e))

    @app.before_request
    def guard():
        req = flask.request
        why = refusal(req.method, req.path, req.headers, app.config["STUDIO_ALLOWED"], studio.token)
        if why is not None:
            return fail(*why)
        if req.method == "POST":
            try:  # the whole body now: cut short or malformed is a 400 before anything runs
                _ = req.form, req.files  # parse the whole body now
            except ValueError as e:
                raise ValueError(f"the request body is not complete multipart/form-data ({e})") from None
            except OSError as e:  # a body trickled in past the server's deadline, or cut off
                return fail(408, f"the request body did not arrive in time ({e})")

    @app.errorhandler(Exception)
    def unexpected(e):  # a bug, not bad input: still one line, never a traceback page
        app.logger.exception("studio request failed")
        return fail(500, f"internal error: {type(e).__name__}: {e}")

    def uploaded_seed():
        file = flask.request.files.get("midi")
        if file is None:
            return None
        data = file.read(studio.cfg.max_upload_bytes + 1)
        if not data:
            if not file.filename:  # a form's file field left empty
                return None
            raise ValueError(f"{file.filename}: the uploaded file is empty")
        return studio.add_seed(file.filename or "upload.mid", data)

    @app.get("/")
    def index():
        return flask.send_from_directory(STATIC, "index.html")

    @app.get("/api/health")
    def health():
        return {"ok": True}

    @app.get("/api/info")
    def info():
        return {"models": studio.model_names(), "samples": studio.sample_names(),
                "audio": studio.audio_available() or True,
                "max_upload_bytes": studio.cfg.max_upload_bytes, "seed": studio.cfg.first_seed,
                "token": studio.token}

    @app.post("/api/seeds")
    def seeds():
        seed = uploaded_seed()
        if seed is None:
            sample = flask.request.form.get("sample", "")
            if not sample:
                raise ValueError("send a MIDI file as the multipart field 'midi', or a 'sample' name")
            seed = studio.add_seed(sample, studio.sample_bytes(sample))
        return studio.describe_seed(seed)

    def json_text(text: str):
        return flask.Response(text, mimetype="application/json")

    @app.post("/api/generate")
    def generate():
        req = flask.request
        entry = studio.generate(parse_form(req.form), uploaded_seed(), client=req.remote_addr or "",
                                gone=_hung_up(req.environ.get("werkzeug.socket")))
        return json_text(entry.to_json())

    @app.get("/api/history")
    def history():
        """The session's generations, oldest first, with the outputs still kept."""
        return json_text(studio.history_json())

    @app.get("/api/outputs/<oid>.mid")
    def output_midi(oid):
        out = _find(oid)
        return flask.send_file(out.midi_path, mimetype="audio/midi", as_attachment=True,
                               download_name=out.name)

    @app.get("/api/outputs/<oid>.wav")
    def output_wav(oid):
        out = _find(oid)
        why = studio.audio_available()
        if why:
            return fail(503, why)
        return flask.send_file(studio.wav(out), mimetype="audio/wav", conditional=True)

    def _find(oid: str) -> Output:
        if oid not in studio.outputs:
            flask.abort(404, f"no output {oid!r} in this session")
        return studio.outputs[oid]

    return app


def _hung_up(sock: socket.socket | None):
    """A check whether the client of ``sock`` closed its end (None without a socket). Its
    request is read whole before generation starts, so a readable socket with nothing to
    read is one closed."""
    if sock is None:
        return None

    def gone() -> bool:
        try:
            if not select.select([sock], [], [], 0)[0]:
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return True
    return gone
