"""``python -m model_server [--host H] [--port P] ...``: see ``--help`` for every setting."""

from __future__ import annotations

import logging
import os

from .config import load_config


def main(argv=None) -> None:
    config = load_config(argv)
    if config.threads:
        # Before torch is imported, so that every thread (engine, embeddings) gets this size.
        os.environ["OMP_NUM_THREADS"] = str(config.threads)
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .app import create_app

    app = create_app(config)
    # One process: the engine thread owns the model, so Sanic workers must not fork copies.
    app.run(host=config.host, port=config.port, single_process=True, access_log=False,
            motd=False)


if __name__ == "__main__":
    main()
