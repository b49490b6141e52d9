"""A small TCP forwarder for fault tests: it carries a client's connections to a server (PostgreSQL, Redis) and
can stall them (bytes held, as on a link that went silent) or cut them (reset, and new ones refused)."""

from __future__ import annotations

import socket
import struct
import threading


class TcpProxy:
    """Listens on (host, port) and forwards every connection to ``target``."""

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self.listener = socket.create_server((host, port), reuse_port=False)
        self.listener.settimeout(0.2)
        self.address = self.listener.getsockname()[:2]
        self.flowing = threading.Event()
        self.flowing.set()
        self.cut_off = False
        self.closed = False
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.address[1]

    def stall(self) -> None:
        """Hold every byte from now on, in both directions, on old and new connections alike."""
        self.flowing.clear()

    def cut(self) -> None:
        """Reset every connection and refuse new ones until ``resume()``."""
        with self.lock:
            self.cut_off = True
            for sock in self.sockets:
                _reset(sock)
            self.sockets.clear()

    def resume(self) -> None:
        self.cut_off = False
        self.flowing.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.flowing.set()
        self.listener.close()
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.cut_off:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                if self.cut_off or self.closed:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _reset(sock: socket.socket) -> None:
    """Close with a RST, as a peer that is gone does, rather than an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked reading it, which a close alone does not
    except OSError:
        pass
    sock.close()
