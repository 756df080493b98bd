"""Looking into the test server: trackers through the HTTP API, a health check."""
import time
from pathlib import Path
from typing import Dict, List

import requests

from tests.channels.support import credentials
from tests.support.stack import Stack, free_port

SCREENSHOTS = Path(__file__).resolve().parents[3] / "results" / "screenshots"
TRACKING_NUMBER_10002 = "1Z999AA10123456784"  # demo order 10002: shipped with UPS
# asked with the e-mail address on the order, so that the channel needs no
# identity of its own and the reply gives the status at once
ORDER_10002_QUESTION = "where is order 10002? my email is customer10002@example.com"


def webchat_origin(port: int) -> str:
    """The web chat page's origin: the only one allowed to open the chat."""
    return f"http://127.0.0.1:{port}"


def tracker(stack: Stack, conversation_id: str) -> Dict:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": credentials.API_TOKEN}, timeout=10,
    )
    response.raise_for_status()
    return response.json()


def user_texts(stack: Stack, conversation_id: str) -> List[str]:
    """What the user said in a conversation, as the server stored it."""
    events = tracker(stack, conversation_id)["events"]
    return [e.get("text") for e in events if e["event"] == "user"]


def assert_serving(stack: Stack) -> None:
    """The server is up and answers a normal conversation."""
    assert requests.get(stack.rasa_url, timeout=5).status_code == 200
    replies = stack.say(f"still-serving-{free_port()}", ORDER_10002_QUESTION)
    assert any(TRACKING_NUMBER_10002 in r.get("text", "") for r in replies), replies



def assert_user_texts(stack: Stack, conversation_id: str, expected: List[str],
                      timeout: float = 10) -> None:
    """What the user said, as stored on the server, is `expected` (within
    `timeout`: a reply can reach the user before the tracker is stored)."""
    deadline = time.monotonic() + timeout
    while True:
        texts = user_texts(stack, conversation_id)
        if texts == expected or time.monotonic() > deadline:
            assert texts == expected
            return
        time.sleep(0.2)
