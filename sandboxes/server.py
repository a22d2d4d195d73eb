"""The sandbox process: one small threaded HTTP server per sandbox, each on the port of its URL
in settings. A supervisor loop reads the fault settings from Redis: "down" closes the listening
socket (clients get connection refused), "up" opens it again."""

import contextlib
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from django.conf import settings

from .apis import CarrierSandbox, PaymentSandbox, Reply
from .faults import decide, get_faults

logger = logging.getLogger(__name__)
POLL_S = 0.2


class Counter:
    """A thread-safe count of the blocks currently inside `with counter:`."""

    def __init__(self) -> None:
        self.value, self._lock = 0, threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.value += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.value -= 1


def _handler_for(app: PaymentSandbox | CarrierSandbox) -> type[BaseHTTPRequestHandler]:
    # Requests being worked on: /health shows it, so a test can wait for a quiet sandbox.
    in_flight = Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(Reply(200, {"sandbox": app.name, "in_flight": in_flight.value}))
            else:
                self._send(app.get(self.path))

        def do_POST(self) -> None:
            with in_flight:
                self._post()

        def _post(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(
                    Reply(400, {"error": {"code": "parse_error", "message": "Body is not JSON."}})
                )
                return
            decision = decide(app.name, get_faults(app.name))
            time.sleep(decision.delay_s)
            if decision.error:
                reply = Reply(503, {"error": {"code": "unavailable", "message": "Injected fault."}})
            else:
                reply = app.post(self.path, self.headers.get("Idempotency-Key", ""), body)
            if decision.hang or reply.hang:
                time.sleep(settings.SANDBOX_HANG_SECONDS)
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                logger.info("%s: client left before the answer", app.name)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s: " + format, app.name, *args)

    return Handler


class SandboxServer(ThreadingHTTPServer):
    """A threaded server that can also cut its open keep-alive connections: "down" must refuse
    every client, including those holding a pooled connection from before."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Supervisor:
    """Keeps each sandbox's listening socket open or closed as its `down` fault says."""

    def __init__(self, apps: dict[str, tuple[PaymentSandbox | CarrierSandbox, str, int]]) -> None:
        self.apps = apps
        self.servers: dict[str, SandboxServer] = {}
        self.stopping = threading.Event()

    def _open(self, name: str) -> None:
        app, host, port = self.apps[name]
        server = SandboxServer((host, port), _handler_for(app))
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        self.servers[name] = server
        logger.info("sandbox %s listening on %s:%s", name, host, port)

    def _close(self, name: str) -> None:
        server = self.servers.pop(name)
        server.shutdown()
        server.server_close()
        server.drop_connections()
        logger.info("sandbox %s down (connections refused)", name)

    def sync(self) -> None:
        for name in self.apps:
            down = get_faults(name).down
            if down and name in self.servers:
                self._close(name)
            elif not down and name not in self.servers:
                self._open(name)

    def run(self) -> None:
        self.sync()
        logger.info(
            "sandboxes ready: %s", ", ".join(f"{n}={h}:{p}" for n, (_, h, p) in self.apps.items())
        )
        while not self.stopping.wait(POLL_S):
            try:
                self.sync()
            except redis.RedisError:
                logger.exception("cannot read fault settings; keeping the sandboxes as they are")
        for name in list(self.servers):
            self._close(name)


def build_supervisor(host: str, ports: dict[str, int]) -> Supervisor:
    apps: dict[str, PaymentSandbox | CarrierSandbox] = {
        "payments": PaymentSandbox(),
        "carrier_primary": CarrierSandbox("carrier_primary"),
        "carrier_fallback": CarrierSandbox("carrier_fallback"),
    }
    return Supervisor({name: (app, host, ports[name]) for name, app in apps.items()})
