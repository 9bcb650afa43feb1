"""The demo support agent: CRM, refund and payment tools behind the firewall."""
