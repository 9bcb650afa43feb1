"""``python -m firewall.adapters.service`` = ``firewall serve``."""

import typer

from firewall.cli.serve import serve

if __name__ == "__main__":
    typer.run(serve)
