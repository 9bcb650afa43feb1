"""The ``firewall`` command: one sub-command group per concern."""

from __future__ import annotations

import typer

from firewall.cli import approvals as approvals
from firewall.cli import audit as audit
from firewall.cli import bench as bench
from firewall.cli import containment as containment
from firewall.cli import demo as demo
from firewall.cli import policy as policy
from firewall.cli import serve as serve

app = typer.Typer(
    no_args_is_help=True, add_completion=False, rich_markup_mode=None, help="Agent Firewall."
)
app.add_typer(audit.app, name="audit", help="Verify and inspect the audit chain.")
app.add_typer(approvals.app, name="approvals", help="List, approve and deny held calls.")
app.add_typer(policy.app, name="policy", help="Test the Rego policies.")
app.command("demo")(demo.demo)
app.command("bench")(bench.bench)
app.command("serve")(serve.serve)
app.command("freeze")(containment.freeze)
app.command("unfreeze")(containment.unfreeze)
app.command("frozen")(containment.frozen)


def main() -> None:
    """Console-script entry point."""
    app()
