"""Totals in Redis, shared by every worker: each step is one Lua script, so it is atomic.

A tally is a hash ``<prefix>:totals:t:<key>`` (``c``: cents, ``n``: calls) that never
expires: it is the running total. A reservation is a hash ``<prefix>:totals:r:<id>``
(owner, state, its entries one ``key cents`` a line) that lives :data:`RECORD_TTL_S`.
Reserving compares every tally with the one the policy saw (as decimal text, exactly)
and adds to all of them, or to none. Releasing reads the record, then checks in the
script that it is still the one read (same owner, still reserved, same entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from firewall.containment.settings import LimitSettings
from firewall.containment.stores import describe_url, redis_client
from firewall.totals.base import RECORD_TTL_S, Entry, Reserved, Tally

RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, 0} end
for i = 2, #KEYS do
  local t = redis.call('HMGET', KEYS[i], 'c', 'n')
  if (t[1] or '0') ~= ARGV[3 * i - 2] or (t[2] or '0') ~= ARGV[3 * i - 1] then
    return {0, i - 1}
  end
end
for i = 2, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'c', ARGV[3 * i])
  redis.call('HINCRBY', KEYS[i], 'n', 1)
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'reserved', 'entries', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, 0}
"""

COMMIT = """
local r = redis.call('HMGET', KEYS[1], 'owner', 'state')
if r[1] ~= ARGV[1] or r[2] ~= 'reserved' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'spent')
return 1
"""

RELEASE = """
local r = redis.call('HMGET', KEYS[1], 'owner', 'state', 'entries')
if r[1] ~= ARGV[1] or r[2] ~= 'reserved' or r[3] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'c', ARGV[i + 1])
  redis.call('HINCRBY', KEYS[i], 'n', -1)
end
return 1
"""


class RedisTotals:
    """Totals shared by every process that uses the same Redis and key prefix."""

    def __init__(self, url: str, settings: LimitSettings | None = None) -> None:
        settings = settings or LimitSettings()
        self.where = describe_url(url)
        self._prefix = f"{settings.key_prefix}:totals"
        self._client = redis_client(url, settings.timeout_s)
        self._reserve = self._client.register_script(RESERVE)
        self._commit = self._client.register_script(COMMIT)
        self._release = self._client.register_script(RELEASE)

    def read(self, keys: Sequence[str]) -> list[Tally]:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._tally_key(key), "c", "n")
        return [Tally(int(c or 0), int(n or 0)) for c, n in pipe.execute()]

    def reserve(self, reservation_id: str, entries: Sequence[Entry], *, owner: str) -> Reserved:
        keys = [self._record_key(reservation_id)]
        args: list[Any] = [owner, RECORD_TTL_S * 1000, _entries_text(entries)]
        for entry in entries:
            keys.append(self._tally_key(entry.key))
            args += [str(entry.seen.cents), str(entry.seen.calls), str(entry.cents)]
        status, index = self._reserve(keys=keys, args=args)
        if status == -1:
            return Reserved(admitted=False, duplicate=True)
        if status == 0:
            return Reserved(admitted=False, changed=entries[int(index) - 1].key)
        return Reserved(admitted=True)

    def commit(self, reservation_id: str, *, owner: str) -> bool:
        return bool(self._commit(keys=[self._record_key(reservation_id)], args=[owner]))

    def release(self, reservation_id: str, *, owner: str) -> bool:
        record_key = self._record_key(reservation_id)
        listed = self._client.hget(record_key, "entries")
        if listed is None:
            return False
        keys, args = [record_key], [owner, listed]
        for line in str(listed).split("\n") if listed else ():
            key, cents = line.rsplit(" ", 1)
            keys.append(self._tally_key(key))
            args.append(str(-int(cents)))
        return bool(self._release(keys=keys, args=args))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _record_key(self, reservation_id: str) -> str:
        return f"{self._prefix}:r:{reservation_id}"

    def _tally_key(self, key: str) -> str:
        return f"{self._prefix}:t:{key}"


def _entries_text(entries: Sequence[Entry]) -> str:
    return "\n".join(f"{entry.key} {entry.cents}" for entry in entries)
