"""Creates the order database and seeds demo orders: `python -m actions.seed`.
Idempotent: an existing database is left as it is. `--wait S` retries for up
to S seconds while the database is unreachable (a container starting next to
it), and treats a replica that seeded it at the same moment as success."""
import argparse
import time

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from actions.config import get_settings
from actions.orders_db import OrderRepository

RETRY_INTERVAL_S = 2.0


def seed(url: str) -> int:
    return OrderRepository.from_url(url).create_schema_and_seed()


def seed_when_ready(url: str, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return seed(url)
        except SQLAlchemyError as error:
            if time.monotonic() >= deadline:
                raise
            print(f"order database not ready ({type(error).__name__}): retrying")
            time.sleep(RETRY_INTERVAL_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=0.0, metavar="S",
                        help="retry for up to S seconds while the database is unreachable")
    args = parser.parse_args()
    url = get_settings().database_url
    added = seed_when_ready(url, args.wait)
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"order database {shown}: " + (f"seeded {added} demo orders" if added else "already seeded"))


if __name__ == "__main__":
    main()
