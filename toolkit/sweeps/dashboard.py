"""Optuna's dashboard on a study, served on 127.0.0.1 only (nothing is exposed to the network).

``serve_dashboard(storage)`` starts ``optuna_dashboard.wsgi`` in a background thread and returns
a handle with ``.url`` and ``.stop()`` (handy in a notebook); ``python -m toolkit sweep TOPIC
--dashboard`` prints the URL and serves until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import wsgiref.simple_server
from dataclasses import dataclass, field
from typing import Any

from ..validation import check_int

__all__ = ["serve_dashboard", "DashboardServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no access log in the notebook
        pass


@dataclass
class DashboardServer:
    """A running dashboard: open ``url`` in a browser; ``stop()`` shuts it down."""

    url: str
    port: int
    _server: Any = field(repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()


def serve_dashboard(storage: Any, study: str | None = None, *, port: int = 0, background: bool = True
                    ) -> DashboardServer:
    """Serve optuna-dashboard for ``storage`` on ``http://127.0.0.1:<port>`` (0 = a free port).

    With ``study`` the returned URL opens that study's page. ``background=False`` returns an
    unstarted server: call ``.serve_forever()`` (blocks until Ctrl-C).
    """
    import optuna
    from optuna_dashboard import wsgi

    from .engine import open_storage

    port = check_int("port", port, low=0, high=65535) or free_port()
    store = open_storage(storage)
    path = "/dashboard/"
    if study is not None:
        try:
            path = f"/dashboard/studies/{store.get_study_id_from_name(study)}"
        except KeyError:
            names = [s.study_name for s in optuna.get_all_study_summaries(store)]
            raise ValueError(f"study must be one of {names}; got {study!r}") from None
    server = wsgiref.simple_server.make_server("127.0.0.1", port, wsgi(store), handler_class=_QuietHandler)
    handle = DashboardServer(url=f"http://127.0.0.1:{port}{path}", port=port, _server=server)
    if background:
        handle._thread = threading.Thread(target=server.serve_forever, daemon=True)
        handle._thread.start()
    return handle
