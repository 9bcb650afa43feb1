"""Durable holds and human approval of held calls."""

from firewall.approvals.base import ApprovalStore
from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.service import ApprovalService
from firewall.approvals.store import SqlApprovalStore

__all__ = ["ApprovalService", "ApprovalStore", "HoldRecord", "HoldState", "SqlApprovalStore"]
