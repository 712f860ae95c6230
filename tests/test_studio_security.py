"""The studio answers only its own page, and bounds its memory and work (issue 31).

Foreign origins, rebound Host names, bodies a foreign form can send, bodies cut short, work
past the budget, seeds with too many notes, a history past its cap, a client that hangs up,
idle connections, SIGTERM: each refused or cleaned up, with every hostile request built here.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from melodyrnn.studio.guard import allowed_for
from melodyrnn.studio.session import Refused, Studio, StudioConfig

from studio_client import page_client, seed_file, upload

flask = pytest.importorskip("flask", reason="Flask is not installed (pip install 'melodyrnn[studio]')")

SMALL = {"bars": "1", "num_outputs": "1"}


@pytest.fixture
def studio():
    s = Studio(StudioConfig(max_upload_bytes=64 * 1024))
    yield s
    s.close()


@pytest.fixture
def client(studio):
    return page_client(studio)


def _error(r, status: int) -> str:
    body = r.get_json()
    assert r.status_code == status, (r.status_code, body)
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


def test_host_must_name_the_address_served():
    served = allowed_for("127.0.0.1", 8000)
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000"):
        assert host in served, host
    for host in ("evil.example:8000", "127.0.0.1:9000", "127.0.0.1", "", "127.0.0.1.evil.example:8000",
                 "[::1]", "localhost:8000@evil"):
        assert host not in served, host
    lan = allowed_for("192.168.1.5", 8000)
    assert "192.168.1.5:8000" in lan and "10.0.0.1:8000" not in lan
    wildcard = allowed_for("0.0.0.0", 8000)  # any IP: a rebinding attack needs a name
    assert "10.0.0.1:8000" in wildcard and "[fe80::1]:8000" in wildcard
    assert "evil.example:8000" not in wildcard


def test_a_rebound_host_cannot_read_the_history(client):
    assert client.post("/api/generate", data=SMALL).status_code == 200
    r = client.get("/api/history", headers={"Host": "evil.example:8000"})
    assert "Host 'evil.example:8000'" in _error(r, 421)
    assert _error(client.get("/", headers={"Host": "evil.example"}), 421)
    assert len(client.get("/api/history").get_json()["history"]) == 1  # its own Host still reads


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:9000"},  # another port is another origin
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_foreign_page_cannot_generate(client, studio, headers):
    r = client.post("/api/generate", data=SMALL, headers=headers)
    assert "only its own page" in _error(r, 403)
    assert studio.history == [] and studio.outputs == {}


def test_a_foreign_page_cannot_read_the_api(client):
    assert "cross-site" in _error(client.get("/api/history", headers={"Sec-Fetch-Site": "cross-site"}), 403)
    assert client.get("/api/info", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert client.get("/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200  # a link to it


def test_the_page_s_own_origin_may_generate(client):
    r = client.post("/api/generate", data=SMALL, headers={"Origin": "http://localhost",
                                                          "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.get_json()


def test_posts_without_the_token_are_refused(studio):
    from melodyrnn.studio.app import create_app

    bare = create_app(studio).test_client()  # curl without the header
    r = bare.post("/api/generate", data=SMALL, content_type="multipart/form-data")
    assert "X-Melodyrnn-Token" in _error(r, 403)
    r = bare.post("/api/seeds", data={"sample": "x"}, content_type="multipart/form-data",
                  headers={"X-Melodyrnn-Token": studio.token[:-1] + "?"})
    assert _error(r, 403)
    assert bare.get("/api/info").get_json()["token"] == studio.token
    assert studio.history == []


@pytest.mark.parametrize("body, kind", [
    ("bars=1&num_outputs=1", "application/x-www-form-urlencoded"),
    ("bars=1\r\nnum_outputs=1", "text/plain"),
    ('{"bars": 1}', "application/json"),
    ("--B\r\n", "multipart/form-data"),  # no boundary
])
def test_only_multipart_bodies_are_read(client, studio, body, kind):
    r = client.post("/api/generate", data=body, content_type=kind)
    assert "multipart/form-data" in _error(r, 415)
    assert studio.history == []


def test_a_malformed_multipart_body_runs_nothing(client, studio):
    r = client.post("/api/generate", data=b"this is no multipart body at all",
                    content_type="multipart/form-data; boundary=B")
    assert "not complete multipart/form-data" in _error(r, 400)
    assert studio.history == []


def test_the_work_budget_and_field_checks(client, studio):
    r = client.post("/api/generate", data={"bars": "1024", "num_outputs": "4", "beam_size": "64"})
    assert "too much work for one call" in _error(r, 400) and "= 262144, over the budget" in _error(r, 400)
    r = client.post("/api/generate", data={"steps": "65536", "num_outputs": "16"})
    assert "too much work" in _error(r, 400)
    r = client.post("/api/generate", data={"seed": "-1"})
    assert "field 'seed' = '-1': must be 0.." in _error(r, 400)
    r = client.post("/api/generate", data={"temperature": "1e-320"})
    assert "field 'temperature' = '1e-320': must be >= 0.0001" in _error(r, 400)
    assert "characters, more than" in _error(client.post("/api/generate", data={"primer": "60 " * 2000}), 400)
    assert studio.history == []


def test_a_seed_with_too_many_notes_is_refused():
    studio = Studio(StudioConfig(max_seed_notes=10))
    try:
        r = page_client(studio).post("/api/seeds", data=upload(seed_file()))
        assert "16 notes, more than the 10 a seed may have" in _error(r, 400)
        assert studio.seeds == {}
    finally:
        studio.close()


def test_kept_seeds_are_bounded_by_their_notes():
    studio = Studio(StudioConfig(max_kept_seed_notes=40))
    try:
        client = page_client(studio)
        ids = [client.post("/api/seeds", data=upload(seed_file())).get_json()["id"] for _ in range(4)]
        assert list(studio.seeds) == ids[-2:]  # 16 notes each: two fit in 40
    finally:
        studio.close()


def test_the_history_holds_only_what_it_can_serve():
    studio = Studio(StudioConfig(max_outputs=3))
    try:
        client = page_client(studio)
        first = client.post("/api/generate", data={**SMALL, "num_outputs": "2"}).get_json()
        client.post("/api/generate", data={**SMALL, "num_outputs": "2", "seed": "1"})
        evicted = first["outputs"][0]["id"]
        assert evicted not in studio.outputs and not (studio.folder / f"{evicted}.mid").exists()
        assert client.get(f"/api/outputs/{evicted}.mid").status_code == 404
        history = client.get("/api/history").get_json()["history"]
        assert [[o["id"] for o in h["outputs"]] for h in history] == [
            [first["outputs"][1]["id"]], list(studio.outputs)[1:]]
        assert all("midi_base64" not in o for h in history for o in h["outputs"])
        assert sum(len(g.outputs) for g in studio.history) == 3
        client.post("/api/generate", data={**SMALL, "num_outputs": "3", "seed": "2"})
        assert len(studio.history) == 1  # generations whose outputs all went are gone too
    finally:
        studio.close()


def test_piano_rolls_are_capped():
    studio = Studio(StudioConfig(max_roll_notes=5))
    try:
        seed = page_client(studio).post("/api/seeds", data=upload(seed_file())).get_json()
        assert sum(len(t["notes"]) for t in seed["roll"]["tracks"]) == 5
        assert seed["roll"]["notes_left_out"] == 11
    finally:
        studio.close()


def test_one_generation_at_a_time_per_client_and_a_deadline(studio):
    from melodyrnn.studio.forms import parse_form

    form = parse_form(SMALL)
    errors = []
    studio._lock.acquire()  # another client's generation under way
    waiting = threading.Thread(target=lambda: studio.generate(form, client="10.0.0.7"))
    waiting.start()
    try:
        for _ in range(200):
            if "10.0.0.7" in studio._clients:
                break
            time.sleep(0.01)
        with pytest.raises(Refused) as e:
            studio.generate(form, client="10.0.0.7")
        errors.append(e.value.status)
    finally:
        studio._lock.release()
        waiting.join(60)
    assert errors == [429] and len(studio.history) == 1
    hurried = Studio(StudioConfig(max_seconds=0.0))
    try:
        with pytest.raises(Refused, match="ran past 0 s"):
            hurried.generate(form)
        assert hurried.history == []
    finally:
        hurried.close()


# -- over real HTTP ---------------------------------------------------------------------

@pytest.fixture
def served(monkeypatch):
    from melodyrnn.studio import server as srv

    monkeypatch.setattr(srv, "MAX_CONNECTIONS", 4)
    monkeypatch.setattr(srv, "IDLE_SECONDS", 1.0)
    monkeypatch.setattr(srv, "READ_SECONDS", 2.5)
    server, studio = srv.start(StudioConfig(), port=0)
    yield server.port, studio
    server.shutdown()
    server.server_close()
    studio.close()


def _raw(port: int, data: bytes, shut: bool = False, wait: float = 30) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def _multipart(fields: dict, boundary: str = "B") -> bytes:
    return b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items()) + f"--{boundary}--\r\n".encode()


def _post(port: int, token: str, body: bytes, length: int | None = None, boundary: str = "B") -> bytes:
    head = (f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Melodyrnn-Token: {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def _json_answer(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_body_cut_short_runs_nothing(served):
    port, studio = served
    body = _multipart({"bars": "1", "num_outputs": "1"})
    for cut in (body[:30], body[:-10]):
        status, answer = _json_answer(_raw(port, _post(port, studio.token, cut, len(cut))))
        assert status == 400 and "multipart" in answer["error"], answer
        status, answer = _json_answer(_raw(port, _post(port, studio.token, cut, len(body)), shut=True))
        assert status == 400 and set(answer) == {"error"}
    assert studio.history == []
    status, answer = _json_answer(_raw(port, _post(port, studio.token, body)))  # the whole body runs
    assert status == 200 and len(answer["outputs"]) == 1


def test_a_huge_boundary_gets_one_line_of_json(served):
    port, studio = served
    status, answer = _json_answer(_raw(port, _post(port, studio.token, b"", 0, boundary="b" * 100_000)))
    assert status == 431 and set(answer) == {"error"} and "\n" not in answer["error"]


def test_a_client_that_hangs_up_stops_its_generation(served):
    port, studio = served
    body = _multipart({"bars": "256", "num_outputs": "16"})
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(_post(port, studio.token, body))
        for _ in range(600):  # until it generates (the model loads first)
            if studio._lock.locked():
                break
            time.sleep(0.05)
        time.sleep(0.5)
    started = time.monotonic()
    assert studio._lock.acquire(timeout=60)
    studio._lock.release()
    assert time.monotonic() - started < 5 and studio.history == []


def test_idle_connections_are_closed_and_bounded(served):
    port, _ = served
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    time.sleep(0.3)
    status, answer = _json_answer(_raw(port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
    assert status == 503 and "connections at once" in answer["error"]
    assert all(s.recv(10) == b"" for s in idle)  # closed after IDLE_SECONDS
    for s in idle:
        s.close()
    time.sleep(0.3)
    health = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    assert _json_answer(_raw(port, health.encode()))[1] == {"ok": True}


def test_a_request_trickled_under_the_idle_timeout_is_dropped_at_the_read_deadline(served):
    """One byte every 0.4 s never trips the 1 s idle timeout; the 2.5 s deadline on the whole
    request (line, headers, body) ends it: headers trickled, then a body trickled."""
    port, studio = served
    head = f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Melodyrnn-Token: {studio.token}\r\n"
    for prefix, trickle in ((head.encode(), b"X-Slow: " + b"a" * 40),
                            ((head + "Content-Type: multipart/form-data; boundary=b\r\n"
                              "Content-Length: 1000\r\n\r\n").encode(), b"--b\r\n" + b"a" * 40)):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(prefix)
            start, answer = time.monotonic(), b""
            for byte in trickle:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.4)
                if time.monotonic() - start > 8:
                    break
            s.settimeout(5)
            try:
                answer = s.recv(4096)
            except OSError:
                pass
            elapsed = time.monotonic() - start
        assert elapsed < 8, "the trickled request was still served after 8 s"
        assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 408")), answer[:80]
    assert not studio.history


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_studio_removes_its_folder(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-m", "melodyrnn", "studio", "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stderr.readline()
        assert "melodyrnn studio: http://127.0.0.1:" in line, line
        assert "X-Melodyrnn-Token: " in proc.stderr.readline()
        assert [p.name[:17] for p in tmp_path.iterdir()] == ["melodyrnn-studio-"]
        proc.send_signal(sig)
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopped" in rest and "terminate called" not in rest
    assert list(tmp_path.iterdir()) == []
