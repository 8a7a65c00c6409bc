"""Helpers of the email tests: running a task message as a worker would, and a minimal
SMTP server on loopback (the network edge: Django's real SMTP backend talks to it)."""

from __future__ import annotations

import socket
import threading

from django.test import override_settings

from config.celery import app as celery_app
from uploads.clamd_process import free_port


def run_as_worker(message) -> None:
    """Run a task message the way a worker would (its JSON arguments, eagerly)."""
    task = celery_app.tasks[message.name]
    task.apply(args=message.args, kwargs=message.kwargs).get()


def call_as_worker(task, **kwargs):
    """Call a bound task's body as a worker's first try (so ``retry`` goes to the broker)."""
    task.push_request(retries=0, is_eager=False, called_directly=False)
    try:
        return task(**kwargs)
    finally:
        task.pop_request()


def smtp_at(port: int):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_TIMEOUT=2,
    )


class ScriptedSmtp:
    """Accepts connections on 127.0.0.1 and answers ``RCPT TO`` with ``rcpt_reply``
    (e.g. ``b"550 no such user"``); every other command gets a plain success."""

    def __init__(self, rcpt_reply: bytes) -> None:
        self.rcpt_reply = rcpt_reply
        self.delivered = 0
        self._server = socket.create_server(("127.0.0.1", free_port()))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                self._session(conn.makefile("rb"), conn)

    def _session(self, lines, conn: socket.socket) -> None:
        conn.sendall(b"220 test ESMTP\r\n")
        for raw in lines:
            command = raw.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                reply = b"250 test"
            elif command.startswith(b"RCPT"):
                reply = self.rcpt_reply
            elif command == b"DATA":
                conn.sendall(b"354 go on\r\n")
                for line in lines:
                    if line == b".\r\n":
                        break
                self.delivered += 1
                reply = b"250 queued"
            elif command == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:  # MAIL, RSET, NOOP
                reply = b"250 ok"
            conn.sendall(reply + b"\r\n")
