"""What the studio's page sends, for the studio's tests: its token with every request, forms
as multipart/form-data, and a seed tune to upload."""

import io

from midifactory import melody_file, scale_notes


def seed_file(extra_tracks=()) -> bytes:
    """Two bars of eighth notes in D major at 120 qpm (and ``extra_tracks`` chunks)."""
    return melody_file(scale_notes([62, 64, 66, 67, 69, 71, 73, 74] * 2, step_ticks=240, gap=20),
                       extra_tracks=list(extra_tracks))


def page_client(studio):
    """A test client that sends what the studio's page sends: its token with every request,
    and forms as multipart/form-data."""
    from flask.testing import FlaskClient

    from melodyrnn.studio.app import create_app

    class PageClient(FlaskClient):
        def open(self, *args, **kwargs):
            if isinstance(kwargs.get("data"), dict):
                kwargs.setdefault("content_type", "multipart/form-data")
            return super().open(*args, **kwargs)

    app = create_app(studio)
    app.test_client_class = PageClient
    client = app.test_client()
    client.environ_base["HTTP_X_MELODYRNN_TOKEN"] = studio.token
    return client


def upload(data: bytes, name="seed.mid", **fields):
    return {"midi": (io.BytesIO(data), name), **{k: str(v) for k, v in fields.items()}}
