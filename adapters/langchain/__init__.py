"""LangChain adapter: ``guard_tools`` for plain tools, ``FirewallMiddleware`` for create_agent."""

from .messages import refusal_message
from .middleware import FirewallMiddleware
from .tools import GuardedTool, guard_tools

__all__ = ["FirewallMiddleware", "GuardedTool", "guard_tools", "refusal_message"]
