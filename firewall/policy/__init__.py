"""The policy layer: Rego policies evaluated by an embedded engine or an OPA server."""

from firewall.policy.document import DecisionDocument, parse_decision
from firewall.policy.embedded import RegoEngine
from firewall.policy.engine import PolicyEngine, engine_from_url
from firewall.policy.opa_server import OpaServerEngine

__all__ = [
    "DecisionDocument",
    "OpaServerEngine",
    "PolicyEngine",
    "RegoEngine",
    "engine_from_url",
    "parse_decision",
]
