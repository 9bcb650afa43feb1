"""What the numbers were measured on: CPU, memory, Python, library and server versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from firewall.bench.services import Service, server_version

LIBRARIES = ("agent-firewall", "regopy", "sqlalchemy", "limits", "langchain", "langgraph")


def machine_info(postgres: Service, redis: Service) -> dict[str, str]:
    """Human-readable facts about this machine, in display order."""
    info = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count() or "?"),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start (1, 5, 15 min)": _load(),
        "libraries": ", ".join(f"{name} {_version(name)}" for name in LIBRARIES),
    }
    for service in (postgres, redis):
        version = server_version(service)
        info[service.name] = version or f"unreachable ({service.problem})"
    return info


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory() -> str:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def _load() -> str:
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "?"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
