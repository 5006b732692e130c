"""SMTP sessions kept for the next message (issue #20 item 2), against a local SMTP server of the test's own that
counts sessions and can close a session after a message (as a server's idle timeout does), answer 421 on the next
MAIL, or swallow the answer to DATA. What must hold: several messages share a session; a session the server closed
costs a new one and each message arrives once; after DATA nothing is tried again (an unknown outcome, ADR 0013)."""

from __future__ import annotations

import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from services.notify.adapters.channels.base import OutboundMessage, OutcomeUnknownError
from services.notify.adapters.channels.settings import ChannelSettings
from services.notify.adapters.channels.smtp import SmtpChannel


@dataclass
class Script:
    """How the server treats a session after ``after`` messages in it: ``close`` (silently, as an idle timeout
    does), ``421`` (answers MAIL with 421 and closes), ``lose_data`` (takes the next message, then closes without
    answering DATA); None: serves as many as come."""

    after: int = 0
    then: str | None = None
    sessions: int = 0
    messages: list[str] = field(default_factory=list)  # the Message-ID of each message taken, in order
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(socketserver.StreamRequestHandler):
    script: Script

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        script = self.server.script  # type: ignore[attr-defined]
        with script.lock:
            script.sessions += 1
        taken = 0
        self.reply("220 test.localhost ESMTP")
        while raw := self.rfile.readline():
            verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-test.localhost")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                if script.then and taken >= script.after and script.then in ("close", "421"):
                    if script.then == "421":
                        self.reply("421 test.localhost closing the session")
                    return
                self.reply("250 OK")
            elif verb == "RCPT":
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line)
                message_id = next(
                    (x.decode().split(":", 1)[1].strip() for x in lines if x.lower().startswith(b"message-id:")), ""
                )
                with script.lock:
                    script.messages.append(message_id)
                taken += 1
                if script.then == "lose_data" and taken > script.after:
                    return  # the message is taken; its answer never comes
                self.reply("250 queued")
            elif verb == "RSET" or verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def smtp_server() -> Iterator[tuple[Script, int]]:
    script = Script()
    server = Server(("127.0.0.1", 0), Handler)
    server.script = script  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield script, server.server_address[1]
    server.shutdown()
    server.server_close()


def channel(port: int, **values) -> SmtpChannel:
    return SmtpChannel(
        ChannelSettings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_from="Layanan Pengaduan <pengaduan@example.id>",
            smtp_timeout=2.0,
            **values,
        )
    )


def message() -> OutboundMessage:
    return OutboundMessage(
        channel="email", to="siti@example.id", text="Pengaduan Anda diterima.", reference=uuid.uuid4().hex, subject="x"
    )


def sent_ids(email: SmtpChannel, count: int) -> list[str]:
    return [email.send(message()).provider_message_id for _ in range(count)]


def test_messages_share_one_session(smtp_server):
    script, port = smtp_server
    ids = sent_ids(channel(port), 3)
    assert script.messages == ids and script.sessions == 1


def test_one_session_per_message_when_reuse_is_off_or_the_message_cap_is_reached(smtp_server):
    script, port = smtp_server
    sent_ids(channel(port, smtp_reuse_seconds=0), 2)
    assert (len(script.messages), script.sessions) == (2, 2)
    sent_ids(channel(port, smtp_reuse_messages=2), 3)  # two in the first session, then QUIT
    assert (len(script.messages), script.sessions) == (5, 4)


def test_a_session_idle_past_the_reuse_window_is_not_used_again(smtp_server):
    script, port = smtp_server
    email = channel(port, smtp_reuse_seconds=0.2)
    email.send(message())
    time.sleep(0.3)
    email.send(message())
    assert (len(script.messages), script.sessions) == (2, 2)


@pytest.mark.parametrize("then", ["close", "421"])
def test_a_kept_session_the_server_closed_costs_a_new_session_and_each_message_arrives_once(smtp_server, then):
    script, port = smtp_server
    script.after, script.then = 1, then  # one message per session, as a server that closed it while idle
    ids = sent_ids(channel(port), 3)
    assert script.messages == ids and script.sessions == 3


def test_a_lost_answer_to_data_on_a_kept_session_is_an_unknown_outcome_never_a_second_send(smtp_server):
    script, port = smtp_server
    script.after, script.then = 1, "lose_data"
    email = channel(port)
    first = email.send(message()).provider_message_id
    lost = message()
    with pytest.raises(OutcomeUnknownError, match="DATA"):
        email.send(lost)
    assert script.messages == [first, f"<{lost.reference}@example.id>"] and script.sessions == 1
    third = email.send(message()).provider_message_id  # a new session after it
    assert script.messages[-1] == third and script.sessions == 2
