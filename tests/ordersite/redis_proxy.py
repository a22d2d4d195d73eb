"""A TCP proxy in front of the tests' Redis that a test can cut: open connections are reset and
new ones closed at once, as in a Redis restart or a network blip. Started and stopped by the test
that uses it (threads of the test process; nothing to kill)."""

import contextlib
import socket
import threading

from payments.gateways import HttpPaymentGateway, PaymentResult


class RedisProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.is_cut = False
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.is_cut:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until restore()."""
        self.is_cut = True
        with self.lock:
            ends, self.open = self.open, set()
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self.is_cut = False

    def stop(self) -> None:
        self.stopping = True
        self.cut()
        self.listener.close()


# The proxy the gateway below cuts once the processor has answered (set by the test).
CUT_AFTER_CALL: list[RedisProxy] = []


class BlipAfterAnswerGateway(HttpPaymentGateway):
    """The real payment sandbox over HTTP; the moment it has authorized, Redis blips, so the
    breaker cannot record the (successful) call."""

    def authorize(
        self, *, amount_cents: int, currency: str, token: str, idempotency_key: str
    ) -> PaymentResult:
        result = super().authorize(
            amount_cents=amount_cents,
            currency=currency,
            token=token,
            idempotency_key=idempotency_key,
        )
        for proxy in CUT_AFTER_CALL:
            proxy.cut()
        return result
