"""Loading the models in a background thread, so the server listens (503) while they load."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Callable

from . import loading
from .config import Config
from .metrics import Metrics
from .readiness import Models, Readiness

log = logging.getLogger(__name__)

# (config, metrics) -> Models with an engine not yet started; tests pass a tiny model's loader.
LoadModels = Callable[[Config, Metrics], Models]


def load_models(config: Config, metrics: Metrics) -> Models:
    """The real models: slow (model files), so it runs in the loader thread."""
    import torch

    from .embeddings import Embedder, EmbeddingQueue
    from .engine import Engine
    from .llama import Llama, LlamaShape
    from .prompts import PromptBuilder

    if config.threads:
        torch.set_num_threads(config.threads)
    files = loading.resolve_chat_model(config.chat_model, config.cache_dir)
    shape = LlamaShape.from_hf_config(files.config)
    model = Llama(shape, loading.load_state_dict(files.folder), config.dtype)
    tokenizer = loading.load_tokenizer(files.folder)
    embedder = Embedder(loading.resolve_embedding_model(config.embedding_model))
    engine = Engine(
        model, tokenizer, files.eos_token_ids, max_batch_size=config.max_batch_size,
        max_queue_size=config.max_queue_size, max_seq_len=config.max_seq_len,
        prefill_token_budget=config.prefill_token_budget, metrics=metrics,
        threads=config.threads)
    log.info("chat model %s (%s)", files.folder, config.dtype)
    return Models(engine=engine, prompts=PromptBuilder(tokenizer, config.max_input_tokens),
                  embeddings=EmbeddingQueue(embedder, config.max_queue_size))


def load_in_background(load: LoadModels, config: Config, metrics: Metrics,
                       readiness: Readiness, loop: asyncio.AbstractEventLoop) -> threading.Thread:
    """Load, start the engine on ``loop``'s side, and report into ``readiness``."""

    def run() -> None:
        try:
            started = time.monotonic()
            models = load(config, metrics)
            models.engine.start(loop)
            log.info("models loaded in %.1f s", time.monotonic() - started)
            readiness.set_ready(models)
        except Exception as exc:  # reported by /health; the process stays up to say why
            log.exception("loading models failed")
            readiness.set_failed(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=run, name="loader", daemon=True)
    thread.start()
    return thread
