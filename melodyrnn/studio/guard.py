"""Who may drive the studio: its own page, and scripts that ask for the address it serves.

Three checks, before any route runs (:func:`refusal`):

- ``Host`` must name the address served: ``127.0.0.1``, ``localhost`` or ``[::1]``, or the
  ``--host`` address (with the port served). A DNS-rebound name (``evil.example:8000``) is
  refused with 421, so a page of another site cannot read the studio through its own name.
  Served on a wildcard address (``--host 0.0.0.0`` or ``::``), any IP address is a Host too
  (a rebinding attack needs a name), and the machine's own name.
- Requests to ``/api/`` that a browser marks as coming from another site
  (``Sec-Fetch-Site`` ``cross-site`` or ``same-site``: another port is another origin) are
  refused with 403, and so are state-changing ones whose ``Origin`` is another origin or
  ``null``.
- State-changing requests (``POST``...) carry the studio's per-process token in the
  ``X-Melodyrnn-Token`` header (``GET /api/info`` answers it to pages and scripts of an
  allowed Host; ``melodyrnn studio`` prints it at start). A custom header cannot be sent
  across origins without a CORS preflight, which the studio never grants, so a page of
  another origin -- even with ``fetch(..., {mode: "no-cors"})`` or a plain HTML form -- cannot
  run a generation. Their bodies must be ``multipart/form-data`` (415 otherwise).

Each refusal is ``(status, one-line reason)``.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket

__all__ = ["LOOPBACK", "TOKEN_HEADER", "Allowed", "allowed_for", "refusal"]

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")
TOKEN_HEADER = "X-Melodyrnn-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OWN_SITE = ("same-origin", "none")  # Sec-Fetch-Site of the studio's own page, or a typed URL


class Allowed:
    """The Host names a studio answers: ``names`` (lower case, IPv6 in brackets), ``port``
    (None: any port, as for a WSGI test client), ``any_ip`` (a wildcard bind: every IP
    address is a name too)."""

    def __init__(self, names, port: int | None = None, any_ip: bool = False) -> None:
        self.names, self.port, self.any_ip = frozenset(n.lower() for n in names), port, any_ip

    def __contains__(self, host: str) -> bool:
        name, sep, port = _split_host(host.strip().lower())
        if self.port is not None and (int(port) if port.isdigit() else 80 if not sep else -1) != self.port:
            return False
        if name in self.names:
            return True
        if self.any_ip:
            try:
                ipaddress.ip_address(name.strip("[]"))
                return True
            except ValueError:
                return False
        return False


def _split_host(host: str) -> tuple[str, str, str]:
    """(name, ':' or '', port) of a Host header; an IPv6 name keeps its brackets."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = (host, "") if end < 0 else (host[:end + 1], host[end + 1:])
        return (name, ":", rest[1:]) if rest.startswith(":") else (name, "", rest)
    return host.rpartition(":") if ":" in host else (host, "", "")


def allowed_for(host: str, port: int | None) -> Allowed:
    """The Host names of a studio bound to ``host`` (the ``--host`` option) on ``port``."""
    names = set(LOOPBACK)
    if host in WILDCARDS:
        names |= {socket.gethostname(), socket.getfqdn()}
        return Allowed(names, port, any_ip=True)
    try:
        names.add(f"[{host}]" if ipaddress.ip_address(host).version == 6 else host)
    except ValueError:
        names.add(host)
    return Allowed(names, port)


def refusal(method: str, path: str, headers, allowed: Allowed, token: str) -> tuple[int, str] | None:
    """Why a request may not run, as (HTTP status, one line), or None when it may.

    ``headers`` is the request's headers (a mapping, case-insensitive keys); ``path`` its
    path; ``token`` the studio's own.
    """
    host = headers.get("Host", "")
    if host not in allowed:
        return 421, (f"this studio answers only its own address, not Host {host[:80]!r} "
                     "(open it at http://127.0.0.1:PORT/ or the --host address)")
    if not path.startswith("/api/"):
        return None  # the page and its static files: anyone may open them
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in OWN_SITE:
        return 403, f"the studio's API answers only its own page, not a {site} request"
    if method in SAFE_METHODS:
        return None
    origin = headers.get("Origin")
    if origin is not None and origin != f"http://{host}":
        return 403, f"the studio's API answers only its own page, not one from {origin[:80]!r}"
    sent = headers.get(TOKEN_HEADER, "")
    if not secrets.compare_digest(sent.encode("utf-8", "replace"), token.encode()):
        return 403, (f"send the studio's token in the {TOKEN_HEADER} header (GET /api/info "
                     "answers it; melodyrnn studio prints it at start)")
    kind = headers.get("Content-Type", "")
    if not kind.lower().startswith("multipart/form-data") or "boundary=" not in kind:
        return 415, f"send multipart/form-data (curl -F), not {kind[:60] or 'no Content-Type'!r}"
    return None
