"""Creates the order database and seeds demo orders: `python -m actions.seed`.
Idempotent: an existing database is left as it is."""
from sqlalchemy.engine import make_url

from actions.config import get_settings
from actions.orders_db import OrderRepository


def main() -> None:
    url = get_settings().database_url
    added = OrderRepository.from_url(url).create_schema_and_seed()
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"order database {shown}: " + (f"seeded {added} demo orders" if added else "already seeded"))


if __name__ == "__main__":
    main()
