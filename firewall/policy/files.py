"""The Rego files of a policy directory: which they are, their revision, whether they changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firewall.canonical import digest
from firewall.errors import ConfigError, PolicyError

TEST_SUFFIX = "_test.rego"

Signature = tuple[tuple[str, int, int], ...]
"""(relative path, mtime in ns, size) of every policy file: cheap to take, changes on edit."""


@dataclass(frozen=True)
class RegoModule:
    """One Rego source file, named by its path relative to the policy directory."""

    name: str
    source: str


def require_dir(policy_dir: Path) -> Path:
    """``policy_dir`` itself, or a :class:`ConfigError` if it is not a directory."""
    if not policy_dir.is_dir():
        raise ConfigError("policy.dir", f"policy directory not found: {policy_dir}")
    return policy_dir


def policy_paths(policy_dir: Path) -> list[Path]:
    """The policy files (``*.rego`` but not ``*_test.rego``), sorted by relative path."""
    paths = [p for p in policy_dir.rglob("*.rego") if not p.name.endswith(TEST_SUFFIX)]
    return sorted(paths, key=lambda p: p.relative_to(policy_dir).as_posix())


def rego_test_paths(policy_dir: Path) -> list[Path]:
    """The Rego test files (``*_test.rego``), sorted by relative path."""
    paths = policy_dir.rglob(f"*{TEST_SUFFIX}")
    return sorted(paths, key=lambda p: p.relative_to(policy_dir).as_posix())


def read_module(policy_dir: Path, path: Path) -> RegoModule:
    """Read one file as UTF-8; unreadable files raise :class:`PolicyError`."""
    name = path.relative_to(policy_dir).as_posix()
    try:
        return RegoModule(name, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {name}: {exc}") from exc


def read_policy(policy_dir: Path) -> tuple[RegoModule, ...]:
    """Every policy module of ``policy_dir``; no module at all is an error."""
    modules = tuple(read_module(policy_dir, path) for path in policy_paths(policy_dir))
    if not modules:
        raise PolicyError(f"no policy files (*.rego) in {policy_dir}")
    return modules


def revision(modules: tuple[RegoModule, ...]) -> str:
    """``sha256:<hex>`` over the sorted (relative path, content) pairs."""
    return digest(sorted([module.name, module.source] for module in modules))


def signature(policy_dir: Path) -> Signature:
    """What the policy files look like on disk now (a missing directory has none)."""
    entries = []
    for path in policy_paths(policy_dir):
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((path.relative_to(policy_dir).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)
