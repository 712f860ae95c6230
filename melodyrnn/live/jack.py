"""A JACK server with no sound hardware (``jackd -d dummy``): real MIDI ports to try
``melodyrnn live --api jack`` on, and to test and time it through, on any Linux machine
with Debian's ``jackd2``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

__all__ = ["dummy_server", "peer_ports"]


def _answers(api_backend) -> bool:
    try:
        api_backend.get_output_names()
        return True
    except Exception:  # not up yet
        return False


@contextlib.contextmanager
def dummy_server(name: str | None = None, timeout: float = 10.0):
    """Run ``jackd -d dummy`` as server ``name`` (default: one of this process's own) for the
    ``with`` block, with ``JACK_DEFAULT_SERVER`` set so that JACK clients opened inside find
    it. Yields the server name; ``ValueError`` when jackd is missing or does not start."""
    from melodyrnn.live.ports import backend

    exe = shutil.which("jackd")
    if exe is None:
        raise ValueError("no jackd: apt-get install jackd2")
    name = name or f"melodyrnn-{os.getpid()}"
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER",
                                            "JACK_NO_AUDIO_RESERVATION")}
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen([exe, "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        jack = backend("jack")
        time.sleep(0.5)  # asked earlier, libjack prints "server not running" lines
        deadline = time.monotonic() + timeout
        while not _answers(jack):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = (proc.stdout.read() if proc.poll() is not None else "").strip().splitlines()
                raise ValueError(f"jackd did not start: {out[-1] if out else 'timed out'}")
            time.sleep(0.1)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def peer_ports(in_name: str = "melodyrnn in", out_name: str = "melodyrnn out"):
    """A second JACK client on the engine's virtual ports: (an output into the port named
    ``in_name``, an input from ``out_name``) -- what a keyboard and a synth would be."""
    from melodyrnn.live.ports import backend

    jack = backend("jack")
    into = next(n for n in jack.get_output_names() if n.endswith(in_name))
    back = next(n for n in jack.get_input_names() if n.endswith(out_name))
    return jack.open_output(into), jack.open_input(back)
