"""The Redis budget ledger: one Lua script checks and reserves every bucket atomically.

A bucket is three keys that expire with its window: a sorted set (reservation id ->
time), a hash (id -> cents) and the running total. Each script call first evicts what
left the window, so its cost follows the evictions, not the bucket's size.
``<prefix>:budget:res:<id>`` holds a reservation's owner, then its buckets, one a line,
so that releasing needs only its id and owner. Releasing checks, in the script, that the
reservation is still the one read (same owner, same buckets), so it happens once.
Time is the Redis server's, the same for every worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from firewall.containment.budgets import UNHELD, Bucket, Reservation
from firewall.containment.settings import LimitSettings
from firewall.containment.stores import describe_url, redis_client

EVICT = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function evict(z, h, s, horizon)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', horizon)
  for i = 1, #old, 500 do
    local chunk = {unpack(old, i, math.min(i + 499, #old))}
    local gone = 0
    for _, cents in ipairs(redis.call('HMGET', h, unpack(chunk))) do
      if cents then gone = gone + tonumber(cents) end
    end
    redis.call('HDEL', h, unpack(chunk))
    if gone > 0 then redis.call('DECRBY', s, gone) end
  end
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', horizon) end
  return tonumber(redis.call('GET', s) or '0')
end
"""

RESERVE = (
    EVICT
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, 0, 0, 0} end
local now = now_ms()
local id, amount, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local longest = 0
for i = 1, n do
  local z, h, s = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local limit, window = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if window > longest then longest = window end
  local used = evict(z, h, s, now - window)
  if used + amount > limit then
    local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
    local retry = window
    if first[2] then retry = tonumber(first[2]) + window - now end
    return {0, i, used, retry}
  end
end
for i = 1, n do
  local z, h, s = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call('ZADD', z, now, id)
  redis.call('HSET', h, id, amount)
  redis.call('INCRBY', s, amount)
  for _, key in ipairs({z, h, s}) do redis.call('PEXPIRE', key, window) end
end
redis.call('SET', KEYS[1], ARGV[4 + 2 * n], 'PX', longest)
return {1, 0, 0, 0}
"""
)

RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS, 3 do
  local cents = redis.call('HGET', KEYS[i + 1], ARGV[1])
  redis.call('ZREM', KEYS[i], ARGV[1])
  if cents then
    redis.call('HDEL', KEYS[i + 1], ARGV[1])
    redis.call('DECRBY', KEYS[i + 2], tonumber(cents))
  end
end
return 1
"""

USED = EVICT + "\nreturn evict(KEYS[1], KEYS[2], KEYS[3], now_ms() - tonumber(ARGV[1]))\n"


class RedisBudgetLedger:
    """Reservations shared by every process that uses the same Redis and key prefix."""

    def __init__(self, url: str, settings: LimitSettings | None = None) -> None:
        settings = settings or LimitSettings()
        self.where = describe_url(url)
        self._prefix = f"{settings.key_prefix}:budget"
        self._client = redis_client(url, settings.timeout_s)
        self._reserve = self._client.register_script(RESERVE)
        self._release = self._client.register_script(RELEASE)
        self._used = self._client.register_script(USED)

    def reserve(
        self, reservation_id: str, amount: int, buckets: Sequence[Bucket], *, owner: str = UNHELD
    ) -> Reservation:
        keys = [self._reservation_key(reservation_id)]
        args: list[Any] = [reservation_id, amount, len(buckets)]
        for bucket in buckets:
            keys += self._keys_of(bucket.key)
            args += [bucket.limit, bucket.window_s * 1000]
        args.append("\n".join([owner, *(bucket.key for bucket in buckets)]))
        status, index, used, retry_ms = self._reserve(keys=keys, args=args)
        if status == -1:
            return Reservation(admitted=False, duplicate=True)
        if status == 0:
            return Reservation(False, buckets[int(index) - 1], int(used), int(retry_ms) / 1000)
        return Reservation(admitted=True)

    def release(self, reservation_id: str, *, owner: str = UNHELD) -> bool:
        listed = self._client.get(self._reservation_key(reservation_id))
        if listed is None:
            return False
        owned_by, *bucket_keys = str(listed).split("\n")
        if owned_by != owner:
            return False
        keys = [self._reservation_key(reservation_id)]
        for bucket_key in bucket_keys:
            keys += self._keys_of(bucket_key)
        return bool(self._release(keys=keys, args=[reservation_id, listed]))

    def used(self, bucket: Bucket) -> int:
        return int(self._used(keys=self._keys_of(bucket.key), args=[bucket.window_s * 1000]))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _reservation_key(self, reservation_id: str) -> str:
        return f"{self._prefix}:res:{reservation_id}"

    def _keys_of(self, bucket_key: str) -> list[str]:
        base = f"{self._prefix}:{bucket_key}"
        return [f"{base}:t", f"{base}:a", f"{base}:sum"]
