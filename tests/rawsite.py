"""A raw-socket HTTP server on 127.0.0.1: it writes the exact bytes it is given and keeps the exact bytes it reads.

No HTTP library between the test and the wire: each answer is the whole response as bytes
(status line, header lines in their case and order, any folding, the body framed however the
test chose), and each request is kept as it arrived. Connections persist while the client
keeps them; an answer may end its connection (`close=True`: a body delimited by the close,
or one cut short by it). With a TLS context it speaks HTTPS; `TunnelProxy` is an HTTP proxy
that opens CONNECT tunnels to it, `ForwardProxy` one that forwards plain-http requests. Each
listens on 127.0.0.1 unless given another loopback address (127.0.0.2, ...).

    with RawSite({"/a": Answer(b"HTTP/1.1 204 No Content\\r\\n\\r\\n")}) as site:
        ...  # fetch f"{site.base}/a"
        [exchange] = site.exchanges_for("/a")  # .received: the request's bytes, .sent: the response's
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import re
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

__all__ = ["Answer", "Exchange", "ForwardProxy", "RawSite", "TunnelProxy", "self_signed_context"]

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


@dataclass(frozen=True)
class Answer:
    """A response as bytes, written as they are; `close` ends the connection after them."""

    data: bytes
    close: bool = False


@dataclass(frozen=True)
class Exchange:
    """One request as it arrived (head, and the body its Content-Length says) and the response written."""

    path: str
    received: bytes
    sent: bytes
    connection: int  # which connection (counted from 1 in accept order) carried it


class RawSite:
    """Answers requests on an ephemeral port of `host` (127.0.0.1) from `answers` (request-target -> Answer).

    `connections` counts the connections accepted: a site no request may reach is a canary.
    """

    def __init__(
        self, answers: Mapping[str, Answer], *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.answers = dict(answers)
        self.tls = tls
        self.exchanges: list[Exchange] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self.base = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop_listening(self._listener)
        with self._lock:
            for conn in self._open:
                _close(conn)
        for thread in self._threads:
            thread.join(timeout=5)

    def exchanges_for(self, path: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.path == path]

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._open.append(conn)
            self._answer_requests(conn, number)
        except OSError:
            pass  # the client went away (as it does, say, past its size limit)
        finally:
            _close(conn)

    def _answer_requests(self, conn: socket.socket, number: int) -> None:
        pending = b""
        while True:
            request, pending = _read_request(conn, pending)
            if request is None:
                return
            path = request.split(b" ", 2)[1].decode("latin-1")
            answer = self.answers.get(path, Answer(NOT_FOUND))
            with self._lock:
                self.exchanges.append(Exchange(path, request, answer.data, number))
            conn.sendall(answer.data)
            if answer.close:
                return


def _read_request(conn: socket.socket, pending: bytes) -> tuple[bytes | None, bytes]:
    """Return (one request as it arrived, the bytes after it), or (None, b"") when the client closed."""
    while b"\r\n\r\n" not in pending:
        data = conn.recv(65536)
        if not data:
            return None, b""
        pending += data
    head_end = pending.index(b"\r\n\r\n") + 4
    found = re.search(rb"\r\ncontent-length:\s*(\d+)", pending[:head_end], re.IGNORECASE)
    end = head_end + (int(found.group(1)) if found else 0)
    while len(pending) < end:
        data = conn.recv(65536)
        if not data:
            return None, b""
        pending += data
    return pending[:end], pending[end:]


def _close(conn: socket.socket) -> None:
    """Close a connection, waking a thread blocked reading it (close alone does not, on Linux)."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


def _stop_listening(listener: socket.socket) -> None:
    """Close a listening socket, waking the thread blocked in accept()."""
    _close(listener)


class TunnelProxy:
    """An HTTP proxy that only tunnels: CONNECT host:port, then bytes both ways until either side closes.

    `requests` keeps each CONNECT request as it arrived, `connections` counts the connections accepted.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server((host, 0))
        self.host = host
        self.url = f"http://{host}:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop_listening(self._listener)
        for conn in list(self._open):
            _close(conn)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(client)
            thread = threading.Thread(target=self._tunnel, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _tunnel(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            request, rest = _read_request(client, b"")
            if request is None:
                return
            self.requests.append(request)
            self._relay(client, request, rest)

    def _relay(self, client: socket.socket, request: bytes, rest: bytes) -> None:
        host, _, port = request.split(b" ", 2)[1].decode("ascii").rpartition(":")
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self._open.append(upstream)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _pipe(client, upstream)


class ForwardProxy(TunnelProxy):
    """An HTTP proxy that forwards plain-http requests: `GET http://host:port/path HTTP/1.1` goes to host:port
    (a name resolved here, by the proxy, as a real one would) as `GET /path HTTP/1.1`, then bytes both ways.

    `requests` keeps each request as it arrived (Proxy-Authorization and all). One upstream per
    client connection: a test sends each of its connections' requests to one site.
    """

    def _relay(self, client: socket.socket, request: bytes, rest: bytes) -> None:
        method, target, tail = request.split(b" ", 2)
        found = re.match(rb"http://([^/:]+|\[[^\]]+\])(?::(\d+))?(/.*)?$", target)
        if found is None:
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        host, port, path = found.group(1).strip(b"[]").decode(), int(found.group(2) or 80), found.group(3) or b"/"
        with socket.create_connection((host, port), timeout=10) as upstream:
            self._open.append(upstream)
            upstream.sendall(b" ".join((method, path, tail)) + rest)
            _pipe(client, upstream)


def _pipe(one: socket.socket, other: socket.socket) -> None:
    peers = {one: other, other: one}
    while True:
        try:
            ready, _, _ = select.select(list(peers), [], [], 10)
        except (OSError, ValueError):  # the server closed the sockets on stop
            return
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
            except (OSError, ValueError):
                return


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """Return a server TLS context with a fresh self-signed certificate for 127.0.0.1 (Scrapy does not verify)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
