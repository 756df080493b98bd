#!/usr/bin/env python
"""How much do reduced-precision weights change the answers? (bf16 / int8 against fp32)

    .venv/llm/bin/python benchmarks/quality_check.py [--max-tokens 64]

Greedy answers to the benchmark prompts are generated in-process by the server's own engine, once
per dtype, and compared token by token with the fp32 answers: identical answers, answers whose first
16 tokens agree, and the mean length of the common prefix. Writes benchmarks/results/quality.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


async def generate_all(engine, tokenizer, prompt_ids, max_tokens):
    from model_server.engine import GenerationRequest
    from model_server.events import Delta, Finished
    from model_server.params import ChatParams

    params = ChatParams(model="m", messages=(), max_tokens=max_tokens, temperature=0.0, top_p=1.0,
                        stop=(), seed=None, stream=False, include_usage=False)
    reqs = []
    for ids in prompt_ids:
        req = GenerationRequest(prompt_ids=ids, params=params, deadline=time.monotonic() + 600)
        engine.submit(req)
        reqs.append(req)
    texts = []
    for req in reqs:
        parts = []
        while True:
            event = await req.events.get()
            if isinstance(event, Delta):
                parts.append(event.text)
            elif isinstance(event, Finished):
                break
            else:
                raise RuntimeError(event)
        texts.append("".join(parts))
    return [tokenizer.encode(t, add_special_tokens=False) for t in texts], texts


def run_dtype(dtype, files, tokenizer, prompt_ids, max_tokens):
    from model_server import loading
    from model_server.engine import Engine
    from model_server.llama import Llama, LlamaShape

    model = Llama(LlamaShape.from_hf_config(files.config), loading.load_state_dict(files.folder), dtype)

    async def go():
        engine = Engine(model, tokenizer, files.eos_token_ids, max_batch_size=len(prompt_ids),
                        max_queue_size=len(prompt_ids), max_seq_len=1024, prefill_token_budget=4096)
        engine.start(asyncio.get_running_loop())
        try:
            return await generate_all(engine, tokenizer, prompt_ids, max_tokens)
        finally:
            engine.stop()

    return asyncio.run(go())


def common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    from bench_model_server import QUESTIONS, messages
    from model_server import loading

    files = loading.resolve_chat_model("", str(REPO / ".cache" / "models"))
    tokenizer = loading.load_tokenizer(files.folder)
    prompt_ids = [tokenizer.apply_chat_template(messages(i), add_generation_prompt=True,
                                                tokenize=True, return_dict=False)
                  for i in range(len(QUESTIONS))]
    answers = {d: run_dtype(d, files, tokenizer, prompt_ids, args.max_tokens)
               for d in ("fp32", "bf16", "int8")}
    ref = answers["fp32"][0]
    lines = [f"Greedy answers to {len(prompt_ids)} shop prompts, max {args.max_tokens} tokens, "
             "compared with fp32 weights.\n",
             "| weights | identical answers | first 16 tokens agree | mean common prefix (tokens) |",
             "|---|---|---|---|"]
    for dtype, (toks, _texts) in answers.items():
        same = sum(a == b for a, b in zip(toks, ref))
        first16 = sum(a[:16] == b[:16] for a, b in zip(toks, ref))
        prefix = statistics.mean(common_prefix(a, b) for a, b in zip(toks, ref))
        lines.append(f"| {dtype} | {same}/{len(ref)} | {first16}/{len(ref)} | {prefix:.1f} |")
    example = ["", "Example (prompt 0):", ""]
    for dtype, (_t, texts) in answers.items():
        example.append(f"- **{dtype}**: {texts[0]!r}")
    report = "\n".join(lines + example) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "quality.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
