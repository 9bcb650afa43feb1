"""RFC 8785 canonical JSON for audit records (see :mod:`firewall.canonical`).

The fast path (the C encoder, for values it writes exactly as RFC 8785 does) lives in
:mod:`firewall.canonical`; here a value with no canonical form is an :class:`AuditError`.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from firewall.canonical import MAX_SAFE_INTEGER, canonical_text
from firewall.errors import AuditError

__all__ = ["MAX_SAFE_INTEGER", "canonical"]


def canonical(value: Any) -> str:
    """``value`` as RFC 8785 canonical JSON text; :class:`AuditError` if it has none."""
    try:
        return canonical_text(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise AuditError(f"audit data is not canonical JSON: {exc}") from exc
