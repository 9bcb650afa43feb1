"""Agent Firewall: one gate for every tool call an AI agent makes."""

from firewall.types import (
    Allow,
    Deny,
    DenyCode,
    Hold,
    Obligations,
    Principal,
    Risk,
    ToolCall,
    ToolSpec,
)

__all__ = [
    "Allow",
    "Deny",
    "DenyCode",
    "Hold",
    "Obligations",
    "Principal",
    "Risk",
    "ToolCall",
    "ToolSpec",
]
