"""A tiny SMTP server for the tests (the mail server's side of a sandbox, as sandboxes/ is the
payment processor's): on a free port of TEST_SANDBOX_PORTS, it keeps every message it accepts,
and answers `451` (try again later) to the first `tempfail` messages it is offered."""

import email
import socketserver
import threading
from email.message import Message

from ..conftest import _free_ports


class SmtpSandbox:
    def __init__(self, *, tempfail: int = 0) -> None:
        self.messages: list[Message] = []
        self.refused = 0
        self._tempfail = tempfail
        self._lock = threading.Lock()
        self.port = _free_ports(1)[0]
        sandbox = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 sandbox ESMTP")
                while line := self.rfile.readline():
                    verb = line.decode(errors="replace").strip().split(" ")[0].upper()
                    if verb == "EHLO":
                        self.reply("250-sandbox")
                        self.reply("250 8BITMIME")
                    elif verb == "MAIL" and sandbox._refuse():
                        self.reply("451 4.3.0 Try again later")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        sandbox._keep(self._data())
                        self.reply("250 2.0.0 Queued")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 Bye")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 OK")

            def _data(self) -> bytes:
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                return b"".join(lines)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _refuse(self) -> bool:
        with self._lock:
            if self._tempfail:
                self._tempfail -= 1
                self.refused += 1
                return True
            return False

    def _keep(self, raw: bytes) -> None:
        with self._lock:
            self.messages.append(email.message_from_bytes(raw))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
