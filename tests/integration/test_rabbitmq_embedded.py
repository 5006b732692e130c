"""The private RabbitMQ node the tests (and later ``make run``) start: its own cookie, ports and data, and
nothing of it left running after ``stop()`` (the Erlang VM and its epmd gone, the port free)."""

from __future__ import annotations

import socket
import uuid

import amqp
import pytest

from shared.embedded import _pid_alive, rabbitmq_installed, start_rabbitmq
from tests.support.servers import NOT_INSTALLED


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_private_node_keeps_its_queues_across_a_restart_and_leaves_nothing_running(tmp_path):
    if not rabbitmq_installed():
        pytest.skip(NOT_INSTALLED)
    node = start_rabbitmq(tmp_path / "rabbitmq", name=f"pengaduan-test-{uuid.uuid4().hex[:8]}")
    try:
        vm = node._vm_pid()
        assert vm and _pid_alive(vm, "beam")
        assert (tmp_path / "rabbitmq" / "home" / ".erlang.cookie").is_file()  # not root's, not the system node's
        assert listening(node.epmd_port) and listening(node.dist_port)
        with amqp.Connection(f"127.0.0.1:{node.port}", userid="guest", password="guest") as conn:
            conn.channel().queue_declare("kept", durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"})
            conn.channel().basic_publish(amqp.Message(b"hello", delivery_mode=2), routing_key="kept")
        node.stop()
        assert not _pid_alive(vm, "beam")
        assert not listening(node.port) and not listening(node.epmd_port)

        node.start()  # same node name, ports and data: a broker restart
        with amqp.Connection(f"127.0.0.1:{node.port}", userid="guest", password="guest") as conn:
            assert conn.channel().basic_get("kept", no_ack=True).body == b"hello"
    finally:
        node.stop()
    assert not listening(node.port)
