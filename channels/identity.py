"""Who the user is, when a channel already knows it.

A channel that has authenticated its user (the web chat page's signed
session, Slack's signed events, a JWT) puts the user's identity into the
message's metadata under `IDENTITY_KEY`; the action server maps it to a
customer (`actions/verification.py`) and skips the e-mail question for that
customer's own orders. Clients can send metadata too, so every channel passes
its metadata through `with_identity`, which drops whatever a client put under
that key.
"""
from typing import Any, Dict, Optional, Text

IDENTITY_KEY = "pine_identity"
# what the action server knows of who the user is (actions/verification.py):
# set only by the actions, never by a client (channels/http_api.py refuses
# tracker events that set them)
VERIFICATION_SLOTS = frozenset({"verified_orders", "verification_failures"})


def with_identity(
    metadata: Optional[Dict[Text, Any]], channel: Text, user: Optional[Text]
) -> Dict[Text, Any]:
    """The metadata with the identity the channel vouches for (none when
    `user` is None) in place of anything the client sent under the key."""
    cleaned = {key: value for key, value in (metadata or {}).items() if key != IDENTITY_KEY}
    if user:
        cleaned[IDENTITY_KEY] = {"channel": channel, "user": user}
    return cleaned


def identity_of(metadata: Optional[Dict[Text, Any]]) -> Optional[Dict[Text, Text]]:
    """The (channel, user) a channel put into the metadata, or None."""
    identity = (metadata or {}).get(IDENTITY_KEY)
    if not isinstance(identity, dict):
        return None
    channel, user = identity.get("channel"), identity.get("user")
    if not isinstance(channel, str) or not isinstance(user, str) or not channel or not user:
        return None
    return {"channel": channel, "user": user}
