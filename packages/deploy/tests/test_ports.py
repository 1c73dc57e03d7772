"""Who holds a port: what `up` names when a service cannot bind."""

from __future__ import annotations

import os
import socket

from mlstack_deploy.ports import port_in_use, port_owner


def test_a_listening_socket_is_found_with_its_owner() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        assert port_owner(port) == os.getpid()
    assert not port_in_use("127.0.0.1", port)
