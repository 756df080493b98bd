"""Which Slack events were already received, so that each is processed once.

`SeenEvents` remembers them in this process: enough for one Rasa server.
With several servers behind a load balancer, Slack's retry of an event may
reach another server than the first delivery did; `RedisSeenEvents` then
shares what was seen through Redis (SLACK_SEEN_EVENTS_REDIS_URL).
"""
import logging
import time
from collections import OrderedDict
from typing import Optional, Text

import redis.asyncio as redis

logger = logging.getLogger(__name__)

# Slack's last retry comes about five minutes after the first delivery.
SEEN_EVENTS_TTL_SECONDS = 60 * 60
SEEN_EVENTS_MAX = 100_000
REDIS_KEY_PREFIX = "slack-seen:"
REDIS_TIMEOUT_SECONDS = 2


class SeenEvents:
    """Event keys seen recently, in this process (bounded in time and size)."""

    def __init__(self, ttl_seconds: float = SEEN_EVENTS_TTL_SECONDS,
                 max_size: int = SEEN_EVENTS_MAX):
        self.ttl_seconds = ttl_seconds
        self.max_size = max_size
        self._seen: "OrderedDict[Text, float]" = OrderedDict()

    async def first_time(self, *keys: Optional[Text]) -> bool:
        """Records the keys; False when any of them was seen before."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) >= self.max_size
            or next(iter(self._seen.values())) < now - self.ttl_seconds
        ):
            self._seen.popitem(last=False)
        keys = tuple(key for key in keys if key)
        if any(key in self._seen for key in keys):
            return False
        for key in keys:
            self._seen[key] = now
        return True


class RedisSeenEvents:
    """Event keys seen recently by any Rasa server that shares this Redis.

    Each key is set with SET NX EX: atomic, so of two servers that get the
    same event at the same moment exactly one processes it, and Redis forgets
    the key after `ttl_seconds`. When Redis cannot be reached the event is
    processed: answering a retry twice is better than not answering at all."""

    def __init__(self, url: Text, ttl_seconds: int = SEEN_EVENTS_TTL_SECONDS,
                 key_prefix: Text = REDIS_KEY_PREFIX) -> None:
        self.ttl_seconds = ttl_seconds
        self.key_prefix = key_prefix
        self._redis = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )

    async def first_time(self, *keys: Optional[Text]) -> bool:
        """Records the keys; False when any of them was seen before."""
        keys = tuple(key for key in keys if key)
        if not keys:
            return True
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.set(self.key_prefix + key, b"1", nx=True, ex=self.ttl_seconds)
                newly_set = await pipe.execute()
        except (redis.RedisError, OSError) as error:
            logger.warning("Slack de-duplication store unreachable (%r): event %s processed.",
                           error, keys[0])
            return True
        return all(newly_set)
