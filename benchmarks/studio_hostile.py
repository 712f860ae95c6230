"""A scripted hostile session against ``melodyrnn studio`` on loopback; peak RSS against 1 GB.

Starts ``melodyrnn studio --port 0`` in a process of its own and, bounded in count and time:
generate requests one after another (2-bar, 4 outputs; ``--generates``), 4 MiB dense seed uploads (the upload
cap full of notes), slow connections aborted half way through their body, idle connections,
budget-busting requests, foreign-origin and rebound-Host requests, and ``/api/history``
reads. The server's RSS is sampled from ``/proc/PID/status`` every 50 ms; the script prints
each kind's answers by status, the peak RSS and whether it stayed under 1 GB, and exits 1
if not (or if a hostile request generated anything).

    python benchmarks/studio_hostile.py [--generates 240] [--uploads 4] [--slow 450] [--idle 450]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

GB = 2 ** 30


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def dense_seed(size: int) -> bytes:
    """A one-track MIDI file of about ``size`` bytes: back-to-back notes, no gaps."""
    events, pitch = bytearray(), 0
    while len(events) < size - 64:
        p = 48 + pitch % 36
        events += bytes([0, 0x90, p, 80, 1, 0x80, p, 0])  # delta, on; delta 1, off
        pitch += 1
    events += b"\x00\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
            + (96).to_bytes(2, "big") + b"MTrk" + len(events).to_bytes(4, "big") + bytes(events))


def multipart(fields: dict, files: dict | None = None, boundary: str = "hostile") -> bytes:
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, (name, data) in (files or {}).items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                "Content-Type: audio/midi\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


class Session:
    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.largest_answer = 0

    def request(self, kind: str, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                host: str | None = None, timeout: float = 180) -> int:
        head = {"Host": host or f"127.0.0.1:{self.port}", "Connection": "close", **(headers or {})}
        if method == "POST":
            head.setdefault("Content-Type", "multipart/form-data; boundary=hostile")
            head["Content-Length"] = str(len(body))
        raw = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(raw.encode() + body)
                answer = b""
                while chunk := s.recv(1 << 16):
                    answer += chunk
            status = int(answer.split(b" ", 2)[1])
            self.largest_answer = max(self.largest_answer, len(answer))
        except (OSError, IndexError, ValueError) as e:
            status = type(e).__name__
        self.counts[kind][status] += 1
        return status

    def post(self, kind: str, path: str, body: bytes, **kw) -> int:
        return self.request(kind, "POST", path, body, {"X-Melodyrnn-Token": self.token}, **kw)


def run(args) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "melodyrnn", "studio", "--port", "0", "--host", "127.0.0.1"],
                            stderr=subprocess.PIPE, text=True, env=env)
    first = proc.stderr.readline()
    port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
    token = proc.stderr.readline().split("X-Melodyrnn-Token: ")[1].split("'")[0]
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()  # drain the log
    peak, samples, done = [0], [], threading.Event()

    def sample():
        while not done.is_set():
            r = rss(proc.pid)
            peak[0] = max(peak[0], r)
            samples.append(r)
            time.sleep(0.05)
    threading.Thread(target=sample, daemon=True).start()
    s = Session(port, token)
    started = time.monotonic()
    try:
        s.request("health", "GET", "/api/health")
        base = rss(proc.pid)
        seed = dense_seed(4 * 2 ** 20 - 4096)  # 520k notes: over the seed's note cap
        just_under = dense_seed(790_000)  # 98.7k notes: kept
        for _ in range(args.uploads):
            s.post("upload 98.7k-note seed", "/api/seeds", multipart({}, {"midi": ("under.mid", just_under)}))
            s.post("generate on a 98.7k-note seed", "/api/generate",
                   multipart({"bars": 2, "num_outputs": 4, "primer_bars": 0}, {"midi": ("under.mid", just_under)}))  # 4 MiB dense seeds, then 2-bar requests on the last
            s.post("upload 4 MiB dense seed", "/api/seeds", multipart({}, {"midi": ("dense.mid", seed)}))
            s.post("generate on a dense seed", "/api/generate",
                   multipart({"bars": 2, "num_outputs": 4}, {"midi": ("dense.mid", seed)}))
        # budget-busting, foreign and rebound requests: all refused, nothing generated
        for body in ({"bars": 1024, "num_outputs": 4, "beam_size": 64}, {"steps": 98304, "num_outputs": 16}):
            s.post("budget-busting", "/api/generate", multipart(body))
        gen = multipart({"bars": 2, "num_outputs": 4})
        s.request("foreign origin", "POST", "/api/generate", gen,
                  {"Origin": "http://evil.example", "X-Melodyrnn-Token": token})
        s.request("no token (no-cors page)", "POST", "/api/generate", gen)
        s.request("text/plain", "POST", "/api/generate", b"bars=2",
                  {"Content-Type": "text/plain", "X-Melodyrnn-Token": token})
        s.request("rebound Host", "GET", "/api/history", host=f"evil.example:{port}")
        history_before = s.counts["generate"][200]

        def generate_many(n):
            for k in range(n):
                s.post("generate", "/api/generate", multipart({"bars": 2, "num_outputs": 4, "seed": k}))
        # one client, one request after another (a second at once would get 429)
        workers = [threading.Thread(target=generate_many, args=(args.generates,))]
        for w in workers:
            w.start()

        def slow_aborted(n):  # headers and half a body, then gone
            body = multipart({"bars": 16, "num_outputs": 4})
            for _ in range(n):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                        c.sendall((f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                   f"X-Melodyrnn-Token: {token}\r\nContent-Type: multipart/form-data; "
                                   f"boundary=hostile\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                                  + body[:len(body) // 2])
                        time.sleep(0.01)
                    s.counts["slow, aborted"]["sent"] += 1
                except OSError as e:
                    s.counts["slow, aborted"][type(e).__name__] += 1
        slow = threading.Thread(target=slow_aborted, args=(args.slow,))
        slow.start()
        idle = []
        for _ in range(args.idle):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError as e:
                s.counts["idle"][type(e).__name__] += 1
        s.counts["idle"]["opened"] += len(idle)
        time.sleep(2)
        s.request("health while idle connections wait", "GET", "/api/health")
        for c in idle:
            c.close()
        slow.join()
        for w in workers:
            w.join()
        for _ in range(3):
            s.request("history", "GET", "/api/history")
        hist = json.loads(subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/api/history"],
                                         capture_output=True, text=True).stdout or '{"history": []}')
        kept = sum(len(h["outputs"]) for h in hist["history"])
        stray = [h["label"] for h in hist["history"] if not h["fields"]]
    finally:
        done.set()
        elapsed = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"studio_hostile: {elapsed:.0f} s, server rc {proc.returncode}")
    for kind, counter in s.counts.items():
        print(f"  {kind:36s} {dict(counter)}")
    print(f"  history: {len(hist['history'])} generations, {kept} outputs kept, "
          f"{len(stray)} with empty fields; largest answer {s.largest_answer / 2 ** 20:.1f} MiB")
    print(f"  RSS: {base / 2 ** 20:.0f} MB after start, peak {peak[0] / 2 ** 20:.0f} MB "
          f"({len(samples)} samples), limit {GB / 2 ** 20:.0f} MB: {'under' if peak[0] < GB else 'OVER'}")
    hostile_ran = history_before != 0 or stray
    return 0 if peak[0] < GB and not hostile_ran else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generates", type=int, default=240)
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--slow", type=int, default=450)
    parser.add_argument("--idle", type=int, default=450)
    sys.exit(run(parser.parse_args()))
