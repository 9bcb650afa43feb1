"""LangChain adapter: ``guard_tools`` for plain tools, ``FirewallMiddleware`` for create_agent."""

from .interrupt import FirewallInterruptMiddleware, hold_payload
from .messages import refusal_message
from .middleware import FirewallMiddleware
from .tools import GuardedTool, guard_tools

__all__ = [
    "FirewallInterruptMiddleware",
    "FirewallMiddleware",
    "GuardedTool",
    "guard_tools",
    "hold_payload",
    "refusal_message",
]
