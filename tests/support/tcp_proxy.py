"""A TCP proxy between a client and a server that can cut one connection at a chosen moment: for tests of
what a client does when its connection drops after the server acted but before its answer arrived (a
PostgreSQL COMMIT that went through while the client saw only a closed connection)."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass

# PostgreSQL's CommandComplete for COMMIT ('C', length 11, "COMMIT\0"): sent once the commit is durable
COMMIT_COMPLETE = b"C\x00\x00\x00\x0bCOMMIT\x00"


@dataclass
class _Cut:
    sent: bytes  # the client must have sent this on the connection ...
    answer: bytes  # ... and then the server answers this: the connection is closed, the answer not passed on


class TcpProxy:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to ``upstream``. ``cut_after`` arms a
    one-time cut; ``cuts`` counts the connections cut so far."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.cuts = 0
        self._cut: _Cut | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy-accept").start()

    def cut_after(self, sent: bytes, answer: bytes) -> None:
        """Cut the first connection on which the client sends ``sent`` and the server then answers ``answer``
        (both sides closed, that answer never reaching the client). Once."""
        with self._lock:
            self._cut = _Cut(sent, answer)

    @property
    def armed(self) -> bool:
        return self._cut is not None

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for s in list(self._open):
                _close(s)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:  # upstream away: the client sees its connection refused, as it would directly
                _close(client)
                continue
            with self._lock:
                self._open.update((client, server))
            state: dict = {"sent": None}  # the armed cut whose ``sent`` this connection's client sent
            threading.Thread(target=self._pump, args=(client, server, state, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, state, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, state: dict, from_client: bool) -> None:
        tail = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                seen, tail = tail + data, (tail + data)[-64:]
                with self._lock:
                    cut = self._cut
                    if cut is not None and from_client and cut.sent in seen:
                        state["sent"] = cut
                    if cut is not None and not from_client and state["sent"] is cut and cut.answer in seen:
                        self._cut = None
                        self.cuts += 1
                        break  # the answer is dropped, both sides closed below
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                _close(s)
            with self._lock:
                self._open.difference_update((source, target))


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
