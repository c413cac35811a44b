"""A TCP proxy that can be cut and restored: a database or broker outage without touching the server.

The fault tests point `LIVEBOT_DATABASE_URL` or `LIVEBOT_CELERY_BROKER` at the proxy instead of
the real service. `cut()` resets every open connection and stops listening, so clients see what
they see when the server restarts (connections reset, new ones refused); `restore()` listens
again on the same port. The machine's own Postgres and Redis are never stopped.

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.cut(); time.sleep(20); proxy.restore()
"""

from __future__ import annotations

import logging
import socket
import struct
import threading

log = logging.getLogger(__name__)


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = port
        self.connections_made = 0
        self.refused_while_cut = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> "TcpProxy":
        if self._listener is None:
            self._listen()
        return self

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def cut(self) -> None:
        """Reset every proxied connection and refuse new ones until `restore`."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in its thread (Linux)
            except OSError:
                pass
            listener.close()
        for sock in sockets:
            _reset(sock)

    def restore(self) -> None:
        """Listen again, on the same port."""
        if self._listener is None and not self._closed:
            self._listen()

    def close(self) -> None:
        self._closed = True
        self.cut()

    # ---- plumbing --------------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen_host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"tcpproxy-{self.port}", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError as exc:
                log.warning("proxy cannot reach %s:%s: %s", *self.target, exc)
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self._sockets.update((client, upstream))
                self.connections_made += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees 'connection reset', as when a server dies."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wakes the recv() blocked in the pump thread, sends nothing
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
