"""An attacker who guesses: order numbers with random e-mail addresses.

Starts the real Rasa and action servers (tests/support/stack.py) on loopback
with their own SQLite order database, then tries `--attempts` order numbers
(random five-digit numbers, every fourth one a real demo order) through the
REST channel, each followed by a random e-mail address, starting a new
conversation whenever the bot refuses further attempts. Counts what any reply
disclosed of any demo order (tests/support/disclosure.py), how many attempts
a conversation got before it was refused, and whether an order attacked from
many conversations is refused even with its right address.

    .venv/rasa/bin/python -m benchmarks.guessing.guess_orders [--attempts 1000]

Writes benchmarks/results/guessing.md. `make bench-guessing` runs it.
"""
import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List

import requests
from tqdm import tqdm

from actions.orders_db import DEMO_ORDER_IDS, OrderRepository, demo_email
from actions.verification import MAX_FAILURES_PER_CONVERSATION, MAX_FAILURES_PER_ORDER
from tests.support.disclosure import disclosed
from tests.support.stack import PROJECT_ROOT, Stack, base_env

OUT = PROJECT_ROOT / "benchmarks" / "results" / "guessing.md"
LOCKED = "too many attempts"


def say(stack: Stack, sender: str, text: str) -> List[Dict]:
    response = requests.post(stack.rest_webhook, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


def guess(stack: Stack, repository: OrderRepository, attempts: int, seed: int) -> Dict:
    rng = random.Random(seed)
    orders = {order_id: repository.get_order(order_id) for order_id in DEMO_ORDER_IDS}
    sender, in_conversation = f"guess-{uuid.uuid4().hex[:10]}", 0
    per_conversation: List[int] = []
    leaks: List[str] = []
    refused = refused_early = unanswered = 0
    started = time.monotonic()
    for n in tqdm(range(attempts), desc="guesses", unit="guess"):
        order_id = rng.choice(DEMO_ORDER_IDS) if n % 4 == 0 else str(rng.randint(10000, 99999))
        replies = say(stack, sender, f"where is order {order_id}")
        replies += say(stack, sender, f"{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}@example.com")
        unanswered += not replies
        in_conversation += 1
        for order in orders.values():
            leaks += disclosed(order, replies)
        if LOCKED in " ".join(m.get("text") or "" for m in replies).lower():
            refused += 1
            # before the conversation's limit: the order was locked (5 an hour)
            refused_early += in_conversation < MAX_FAILURES_PER_CONVERSATION
            per_conversation.append(in_conversation)
            sender, in_conversation = f"guess-{uuid.uuid4().hex[:10]}", 0
    return {
        "attempts": attempts,
        "seconds": time.monotonic() - started,
        "disclosures": len(leaks),
        "leaked": leaks[:10],
        "refused": refused,
        "refused_early": refused_early,
        "unanswered": unanswered,
        "conversations": len(per_conversation) + (in_conversation > 0),
        "max_attempts_per_conversation": max(per_conversation, default=in_conversation),
        "median_attempts_per_conversation": statistics.median(per_conversation or [in_conversation]),
    }


def one_order_from_many_conversations(stack: Stack, repository: OrderRepository) -> Dict:
    """MAX_FAILURES_PER_ORDER + 2 conversations try one order with a wrong
    address each; then its owner comes with the right one."""
    order_id = "10007"
    refused_from = None
    for n in range(MAX_FAILURES_PER_ORDER + 2):
        sender = f"one-order-{uuid.uuid4().hex[:10]}"
        replies = say(stack, sender, f"where is order {order_id}")
        replies += say(stack, sender, f"wrong{n}@example.com")
        if refused_from is None and LOCKED in " ".join(m["text"] for m in replies).lower():
            refused_from = n + 1
    sender = f"owner-{uuid.uuid4().hex[:10]}"
    replies = say(stack, sender, f"where is order {order_id}") + say(stack, sender, demo_email(order_id))
    return {
        "order": order_id,
        "refused_from_conversation": refused_from,
        "owner_refused": LOCKED in " ".join(m["text"] for m in replies).lower(),
        "owner_disclosures": len(disclosed(repository.get_order(order_id), replies)),
    }


def locked_orders(stack: Stack) -> int:
    """How many demo orders refuse even their owner now."""
    locked = 0
    for order_id in DEMO_ORDER_IDS:
        replies = say(stack, f"owner-{uuid.uuid4().hex[:10]}", f"where is order {order_id}")
        locked += LOCKED in " ".join(m.get("text") or "" for m in replies).lower()
    return locked


def report(results: Dict, one_order: Dict, command: str) -> str:
    return "\n".join([
        "# Guessing order numbers",
        "",
        f"`{command}` ({time.strftime('%Y-%m-%d')}; the real Rasa and action servers on loopback, "
        "REST channel, in-memory tracker store and failure counter)",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| guesses (order number + random e-mail address) | {results['attempts']} | 1,000 |",
        f"| order facts disclosed | **{results['disclosures']}** | 0 |",
        f"| replies refusing further attempts | {results['refused']} | |",
        f"| ... of which before the conversation's third guess (the order was locked) | "
        f"{results['refused_early']} | |",
        f"| conversations used | {results['conversations']} | |",
        f"| most guesses one conversation got | {results['max_attempts_per_conversation']} | "
        f"{MAX_FAILURES_PER_CONVERSATION} |",
        f"| median guesses per conversation | {results['median_attempts_per_conversation']} | |",
        f"| guesses without any reply | {results['unanswered']} | 0 |",
        f"| demo orders that refuse even their owner afterwards (for an hour) | "
        f"{results['locked_orders']} of {len(DEMO_ORDER_IDS)} | |",
        f"| wall time | {results['seconds']:.0f} s | |",
        "",
        f"First, one order ({one_order['order']}) tried from {MAX_FAILURES_PER_ORDER + 2} conversations "
        f"with wrong addresses: refused from conversation {one_order['refused_from_conversation']} on "
        f"(limit {MAX_FAILURES_PER_ORDER} per hour); afterwards its owner, with the right address, "
        f"was {'refused' if one_order['owner_refused'] else 'NOT refused'} and saw "
        f"{one_order['owner_disclosures']} facts of it: the lock holds for everyone for an hour, "
        "so an attacker can keep an order locked (the refusal offers a person instead).",
        "",
    ] + ([f"Leaked: {results['leaked']}", ""] if results["leaked"] else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guessing-") as workdir:
        url = f"sqlite:///{workdir}/shop.db"
        repository = OrderRepository.from_url(url)
        repository.create_schema_and_seed()
        env = base_env(DATABASE_URL=url, MODEL_SERVER_URL="http://127.0.0.1:9/v1",
                       KNOWLEDGE_INDEX_PATH=f"{workdir}/knowledge_index.json")
        with Stack(Path(workdir), env=env) as stack:
            # first, while no order has failures yet
            one_order = one_order_from_many_conversations(stack, repository)
            results = guess(stack, repository, args.attempts, args.seed)
            results["locked_orders"] = locked_orders(stack)
    command = f".venv/rasa/bin/python -m benchmarks.guessing.guess_orders --attempts {args.attempts}"
    text = report(results, one_order, command)
    args.out.write_text(text)
    print(text)
    if results["disclosures"] or results["max_attempts_per_conversation"] > MAX_FAILURES_PER_CONVERSATION:
        raise SystemExit("guessing disclosed order data or was not bounded")


if __name__ == "__main__":
    main()
