"""Who may decide holds: approver groups, and which names belong to one person.

Membership is exact: a look-alike of a member is not a member. "Is this the requester?"
and "has this person approved already?" compare :func:`~firewall.identity.identity_key`
through the configured aliases (e.g. a Slack user id of an approver), so that no
spelling of a name (case, width, look-alike letters) or second name makes one person two.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from firewall.errors import ConfigError
from firewall.identity import checked_identity, identity_key, spelled_twice


class Approvers:
    """The approver groups (name -> member ids) and the other names of approvers."""

    def __init__(
        self, groups: Mapping[str, Collection[str]], aliases: Mapping[str, str] | None = None
    ) -> None:
        self.groups = _checked_groups(groups)
        self._aliases = {identity_key(k): identity_key(v) for k, v in (aliases or {}).items()}

    def person(self, name: str) -> str:
        """The key of the person ``name`` stands for."""
        key = identity_key(name)
        return self._aliases.get(key, key)

    def among(self, name: str, names: Iterable[str]) -> bool:
        """Whether the person ``name`` stands for is one of ``names``, however spelled."""
        return self.person(name) in {self.person(other) for other in names}


def _checked_groups(groups: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    checked = {}
    for name, members in groups.items():
        if isinstance(members, str) or not all(isinstance(m, str) and m for m in members):
            raise ConfigError(f"approver_groups.{name}", "must be a list of approver ids")
        for member in members:
            try:
                checked_identity(member)
            except ValueError as exc:
                raise ConfigError(f"approver_groups.{name}", f"{member!r}: {exc}") from exc
        checked[name] = frozenset(members)
    if problem := spelled_twice(member for members in checked.values() for member in members):
        raise ConfigError("approver_groups", problem)
    return checked
