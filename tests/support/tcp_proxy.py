"""A TCP proxy a test can break: a store or server outage without touching
the real service other tests share.

`TcpProxy(target_port).start()` listens on a free loopback port and forwards
to the target. `cut()` is an outage (every connection is closed and new ones
are closed at once, like a stopped PostgreSQL or Redis), `hang()` a paused
server (connections are accepted and nothing comes back, like `docker
pause`), `restore()` ends either.
"""
import socket
import threading
from typing import List, Optional

OPEN, CUT, HANG = "open", "cut", "hang"


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = OPEN
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> "TcpProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def cut(self) -> None:
        self.mode = CUT
        self._close_all()

    def hang(self) -> None:
        self.mode = HANG

    def restore(self) -> None:
        self.mode = OPEN
        self._close_all()  # a hung connection's request is lost, as after `docker unpause` times out

    def stop(self) -> None:
        self._stopped = True
        self._close_all()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == CUT:
                client.close()
                continue
            upstream: Optional[socket.socket] = None
            if self.mode == OPEN:
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()
                    continue
            with self._lock:
                self._sockets += [s for s in (client, upstream) if s is not None]
            if upstream is not None:
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while self.mode == HANG and not self._stopped:
                    threading.Event().wait(0.05)  # hold the data: nothing comes back
                if self.mode != OPEN:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
