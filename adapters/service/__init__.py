"""The approval service (``firewall serve``): Slack, REST, health, metrics (extra ``[service]``)."""

from .app import create_app
from .rest import hold_view
from .runtime import ServiceRuntime, Worker
from .server import ServerThread, bind, serve

__all__ = ["ServerThread", "ServiceRuntime", "Worker", "bind", "create_app", "hold_view", "serve"]
