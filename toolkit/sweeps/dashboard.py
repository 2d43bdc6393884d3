"""Optuna's dashboard on a study, served on 127.0.0.1 only, on a free port by default.

``serve_dashboard(storage)`` starts ``optuna_dashboard.wsgi`` in a background thread and returns
a handle with ``.url`` and ``.stop()`` (handy in a notebook); ``python -m toolkit sweep TOPIC
--dashboard`` prints the URL and serves until Ctrl-C.

Listening on loopback is not enough: a web page can point its own host name at 127.0.0.1 (DNS
rebinding) and then talk to the dashboard as if it were that site. So every request must name a
loopback ``Host`` (``127.0.0.1``, ``localhost``, ``[::1]``) with our port, and every request that
changes something (not GET/HEAD/OPTIONS) must come from the dashboard's own page (``Origin``);
anything else gets 403.
"""

from __future__ import annotations

import threading
import wsgiref.simple_server
from dataclasses import dataclass, field
from typing import Any

from ..validation import check_int

__all__ = ["serve_dashboard", "DashboardServer", "loopback_only"]

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def loopback_only(app: Any, port: int) -> Any:
    """WSGI middleware: 403 unless ``Host`` is loopback:port and writes are same-origin."""
    hosts = {f"{h}:{port}" for h in LOOPBACK}
    origins = {f"http://{h}" for h in hosts}

    def guarded(environ: dict, start_response: Any):
        host = environ.get("HTTP_HOST", "").lower()
        write = environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")
        if host not in hosts or (write and environ.get("HTTP_ORIGIN", "").lower() not in origins):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"403: the dashboard answers only http://127.0.0.1 pages of its own port\n"]
        return app(environ, start_response)

    return guarded


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


def serve_dashboard(
    storage: Any, study: str | None = None, *, port: int = 0, background: bool = True
) -> DashboardServer:
    """Serve optuna-dashboard for ``storage`` on ``http://127.0.0.1:<port>`` (0 = a free port).

    With ``study`` the returned URL opens that study's page. ``background=False`` returns an
    unstarted server: call ``.serve_forever()`` (blocks until Ctrl-C).
    """
    import optuna
    from optuna_dashboard import wsgi

    from .storage import open_storage

    port = check_int("port", port, low=0, high=65535)
    store = open_storage(storage)
    path = "/dashboard/"
    if study is not None:
        try:
            path = f"/dashboard/studies/{store.get_study_id_from_name(study)}"
        except KeyError:
            names = [s.study_name for s in optuna.get_all_study_summaries(store)]
            raise ValueError(f"study must be one of {names}; got {study!r}") from None
    try:
        server = wsgiref.simple_server.make_server(
            "127.0.0.1", port, wsgi(store), handler_class=_QuietHandler
        )
    except OSError as exc:
        raise ValueError(
            f"port {port} on 127.0.0.1 is not free ({exc.strerror}); pass port 0 for a free one"
        ) from None
    port = server.server_port  # the one the system chose for port 0
    server.set_app(loopback_only(server.get_app(), port))
    handle = DashboardServer(url=f"http://127.0.0.1:{port}{path}", port=port, _server=server)
    if background:
        handle._thread = threading.Thread(target=server.serve_forever, daemon=True)
        handle._thread.start()
    return handle
