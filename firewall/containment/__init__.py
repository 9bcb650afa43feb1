"""Containment: the kill switch, shared rate limits, money budgets and the circuit breaker.

Import from the submodules (``firewall.containment.control`` and friends); this package
initialiser stays empty so that the pipeline stages can import its pieces without cycles.
"""
