#!/usr/bin/env python
"""Side-by-side benchmark: naive ``model.generate`` loop vs llama-cpp-python vs our model server.

    .venv/llm/bin/python benchmarks/bench_model_server.py            # full run (~10-15 min)
    .venv/llm/bin/python benchmarks/bench_model_server.py --rounds 1 --skip-llamacpp   # quick

Same prompts for all (a shop system prompt + one customer turn, ~100 tokens), greedy, at most 64
new tokens. Systems run *interleaved* in each round (naive, llama.cpp, server@1, @8, @32, ...) so
that background load on a shared machine hits all of them alike; the table reports medians over
rounds. Results: ``benchmarks/results/bench.csv`` (every round) and ``benchmarks/results/bench.md``.

llama-cpp-python is installed into its own environment (``.venv/llamacpp``) on first use, built
without AMX code: the native build crashed with an illegal instruction in its AMX kernels here.

This file only imports the standard library at the top: it also runs as the llama.cpp worker
inside ``.venv/llamacpp`` (``--worker llamacpp``), which has neither torch nor transformers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LLAMACPP_VENV = REPO / ".venv" / "llamacpp"
LLAMACPP_VERSION = "0.3.36"
# Portable AVX-512 build (this CPU has AVX-512 BF16/VNNI) with every AMX kernel switched off.
LLAMACPP_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON "
    "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=ON "
    "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF")

SYSTEM = ("You are the customer-service assistant of Nordlicht, an online shop for outdoor "
          "clothing and camping gear. Be friendly, answer in two or three sentences, never invent "
          "order details, and offer to connect the customer with a human agent when you cannot help.")
QUESTIONS = [
    "Hi, I ordered a rain jacket last Monday and the tracking page still says 'label created'. "
    "Is something wrong with my order?",
    "I would like to return a pair of hiking boots that are too small. I wore them once indoors. "
    "Can I still send them back?",
    "Do you ship to Switzerland? I need to know the delivery time and whether I pay customs.",
    "My discount code SUMMER10 is rejected at checkout even though the newsletter says it is "
    "valid until the end of the month.",
    "How can I change the delivery address of an order that I placed an hour ago?",
    "Which sleeping bag would you recommend for camping in Norway in September?",
    "I was charged twice for the same order this morning. What should I do now?",
    "Can I pay on invoice, or do you only accept credit cards and PayPal?",
    "How long does it take until I get my money back after you receive a return?",
    "Is the Trail 45 backpack waterproof, or do I need to buy a rain cover as well?",
    "I want to cancel my order because I found the tent cheaper in a local shop. Is that possible?",
    "Do you have a physical store in Hamburg where I can try on the jackets?",
    "The zipper of my new tent broke after two nights. Is that covered by the warranty?",
    "I forgot the password for my customer account and the reset email never arrives.",
    "What is the difference between your Fjell and Vidda softshell jackets?",
    "Can I buy a gift card and have it sent to my sister by email on her birthday?",
]


def messages(i: int) -> list:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss(pid: int) -> None:
    try:  # Linux: writing 5 resets the peak RSS counter (VmHWM)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def summarize(name: str, results: list, wall: float, peak_mb: float) -> dict:
    """results: dicts with ttft (s), tokens, decode_s (first token -> last token)."""
    tokens = sum(r["tokens"] for r in results)
    ttfts = sorted(r["ttft"] for r in results)
    per_stream = [(r["tokens"] - 1) / r["decode_s"] for r in results
                  if r["tokens"] > 1 and r["decode_s"] > 0]
    return {
        "system": name,
        "requests": len(results),
        "tokens": tokens,
        "agg_tok_s": tokens / wall,
        "ttft_p50_s": statistics.median(ttfts),
        "ttft_p95_s": ttfts[min(len(ttfts) - 1, int(round(0.95 * (len(ttfts) - 1))))],
        "stream_tok_s": statistics.median(per_stream) if per_stream else float("nan"),
        "peak_rss_mb": peak_mb,
        "wall_s": wall,
    }


# ------------------------------------------------------------------------------------------
# Workers: long-lived subprocesses (model loaded once), one JSON request/answer per line.
# ------------------------------------------------------------------------------------------
def naive_worker(model_dir: str) -> None:
    """What most tutorials do: one ``model.generate`` per request, one after another."""
    import torch

    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    from transformers import AutoModelForCausalLM
    from transformers.generation.streamers import BaseStreamer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    class FirstToken(BaseStreamer):  # records when the first new token exists
        def __init__(self):
            self.calls, self.first = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:  # call 1 is the prompt
                self.first = time.perf_counter()

        def end(self):
            pass

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        reset_peak_rss(os.getpid())
        out = []
        started = time.perf_counter()
        for ids in job["prompts"]:
            t0 = time.perf_counter()
            streamer = FirstToken()
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=job["max_tokens"], do_sample=False,
                                 eos_token_id=2, pad_token_id=2, streamer=streamer)
            t1 = time.perf_counter()
            n = gen.shape[1] - len(ids) - int(gen[0, -1] == 2)  # the stop token is no output
            out.append({"ttft": streamer.first - t0, "tokens": n, "decode_s": t1 - streamer.first})
        print(json.dumps({"results": out, "wall": time.perf_counter() - started,
                          "peak_mb": peak_rss_mb(os.getpid())}), flush=True)


def llamacpp_worker(gguf: str) -> None:
    from llama_cpp import Llama

    threads = int(os.environ["BENCH_THREADS"])
    llm = Llama(model_path=gguf, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                n_batch=512, verbose=False)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        reset_peak_rss(os.getpid())
        out = []
        started = time.perf_counter()
        for ids in job["prompts"]:
            llm.reset()  # no cross-request prompt cache: each request is served cold
            t0 = time.perf_counter()
            first = None
            n = 0
            # The token-level generator: exact token counts, no text post-processing.
            for token in llm.generate(ids, top_k=1, temp=0.0, reset=True):
                if first is None:
                    first = time.perf_counter()
                if token in (2, llm.token_eos()):  # <|im_end|>, as the other systems
                    break
                n += 1
                if n >= job["max_tokens"]:
                    break
            t1 = time.perf_counter()
            out.append({"ttft": first - t0, "tokens": n, "decode_s": t1 - first})
        print(json.dumps({"results": out, "wall": time.perf_counter() - started,
                          "peak_mb": peak_rss_mb(os.getpid())}), flush=True)


class Worker:
    def __init__(self, python: str, kind: str, arg: str, threads: int):
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        self.proc = subprocess.Popen([python, __file__, "--worker", kind, "--worker-arg", arg],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)
        assert json.loads(self.proc.stdout.readline())["ready"]

    def run(self, prompts, max_tokens):
        self.proc.stdin.write(json.dumps({"prompts": prompts, "max_tokens": max_tokens}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def ensure_llamacpp_env() -> str:
    python = LLAMACPP_VENV / "bin" / "python"
    probe = [str(python), "-c", "import llama_cpp"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python)
    print(f"building llama-cpp-python {LLAMACPP_VERSION} into {LLAMACPP_VENV} (a few minutes) ...",
          flush=True)
    subprocess.run(["python3", "-m", "venv", str(LLAMACPP_VENV)], check=True)
    env = dict(os.environ, CMAKE_ARGS=LLAMACPP_CMAKE_ARGS,
               CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count()))
    subprocess.run([str(LLAMACPP_VENV / "bin" / "pip"), "install", "--quiet", "--no-cache-dir",
                    f"llama-cpp-python=={LLAMACPP_VERSION}"], check=True, env=env)
    return str(python)


# ------------------------------------------------------------------------------------------
# Our server over HTTP: closed-loop clients, streaming, usage from the last chunk.
# ------------------------------------------------------------------------------------------
async def http_level(url: str, clients: int, n_requests: int, max_tokens: int) -> tuple:
    import httpx

    queue = list(range(n_requests))
    results = []

    async def one(client, i):
        body = {"model": "smollm2-135m-instruct", "messages": messages(i), "max_tokens": max_tokens,
                "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
        t0 = time.perf_counter()
        first = None
        tokens = 0
        async with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200, await r.aread()
            async for line in r.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
                if first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    first = time.perf_counter()
        t1 = time.perf_counter()
        first = first or t1
        results.append({"ttft": first - t0, "tokens": tokens, "decode_s": t1 - first})

    async def client_loop(client):
        while queue:
            await one(client, queue.pop(0))

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        wall = time.perf_counter() - started
    return results, wall


def start_server(args) -> subprocess.Popen:
    import httpx

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "model_server", "--port", str(args.port),
                             "--dtype", args.dtype, "--max-batch-size", str(max(args.concurrency)),
                             "--threads", str(args.threads), "--log-level", "WARNING"],
                            cwd=REPO, env=env)
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{args.port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not become healthy")


def render_table(rows: list, args) -> str:
    """Median over rounds per system, plus the ratios the issue asks for."""
    by_system = {}
    for r in rows:
        by_system.setdefault(r["system"], []).append(r)
    med = {s: {k: statistics.median(float(r[k]) for r in rs)
               for k in ("agg_tok_s", "ttft_p50_s", "ttft_p95_s", "stream_tok_s", "peak_rss_mb",
                         "requests", "tokens")}
           for s, rs in by_system.items()}
    lines = ["| system | requests | aggregate tok/s | TTFT p50 (s) | TTFT p95 (s) | "
             "per-stream tok/s | peak RSS (MB) |", "|---|---|---|---|---|---|---|"]
    for s, m in med.items():
        lines.append(f"| {s} | {m['requests']:.0f} | {m['agg_tok_s']:.1f} | {m['ttft_p50_s']:.3f} "
                     f"| {m['ttft_p95_s']:.3f} | {m['stream_tok_s']:.1f} | {m['peak_rss_mb']:.0f} |")
    top = f"server c={max(args.concurrency)}"
    ratios = []
    if top in med:
        for base in ("naive generate loop", "llama-cpp-python (sequential)"):
            if base in med:
                ratios.append(f"- {top} / {base}: **{med[top]['agg_tok_s'] / med[base]['agg_tok_s']:.1f}x** "
                              f"aggregate tokens/s")
    if "server c=8" in med:
        ratios.append(f"- TTFT p50 at 8 concurrent clients: **{med['server c=8']['ttft_p50_s']:.3f} s**")
    header = (f"Medians over {args.rounds} interleaved round(s); {args.prompts} prompts for the "
              f"sequential systems, 2 requests per client for the server; greedy, max {args.max_tokens} "
              f"new tokens; server dtype {args.dtype}; {args.threads} compute thread(s) for every "
              f"system; {os.cpu_count()} CPU cores, load average at the end "
              f"{os.getloadavg()[0]:.1f}.\n")
    return header + "\n" + "\n".join(lines) + "\n\n" + "\n".join(ratios) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=8, help="requests per sequential system")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--dtype", default="bf16", choices=["fp32", "bf16", "int8"])
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--threads", type=int, default=1,
                        help="compute threads for every system alike (the server's default is 1)")
    parser.add_argument("--skip-llamacpp", action="store_true")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--name", default="bench", help="result files: OUT/NAME.csv, OUT/NAME.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-arg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "naive":
        return naive_worker(args.worker_arg)
    if args.worker == "llamacpp":
        return llamacpp_worker(args.worker_arg)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]

    sys.path.insert(0, str(REPO))
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    from model_server import loading

    gguf = loading.default_chat_model()
    files = loading.resolve_chat_model(str(gguf), str(REPO / ".cache" / "models"))
    tokenizer = loading.load_tokenizer(files.folder)
    prompts = [tokenizer.apply_chat_template(messages(i), add_generation_prompt=True, tokenize=False)
               for i in range(args.prompts)]
    prompt_ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    print(f"prompt tokens: mean {statistics.mean(map(len, prompt_ids)):.0f}", flush=True)

    workers = {}
    if not args.skip_naive:
        workers["naive generate loop"] = Worker(sys.executable, "naive", str(files.folder),
                                                args.threads)
    if not args.skip_llamacpp:
        workers["llama-cpp-python (sequential)"] = Worker(ensure_llamacpp_env(), "llamacpp",
                                                          str(gguf), args.threads)
    server = start_server(args)
    url = f"http://127.0.0.1:{args.port}"
    rows = []
    try:
        asyncio.run(http_level(url, 4, 8, 8))  # warm-up (prefix cache, allocator)
        for rnd in range(args.rounds):
            for name, worker in workers.items():
                answer = worker.run(prompt_ids, args.max_tokens)
                rows.append(dict(summarize(name, answer["results"], answer["wall"],
                                           answer["peak_mb"]), round=rnd))
                print(rows[-1], flush=True)
            for c in args.concurrency:
                reset_peak_rss(server.pid)
                n = args.prompts if c == 1 else 2 * c
                results, wall = asyncio.run(http_level(url, c, n, args.max_tokens))
                rows.append(dict(summarize(f"server c={c}", results, wall, peak_rss_mb(server.pid)),
                                 round=rnd))
                print(rows[-1], flush=True)
    finally:
        server.terminate()
        server.wait(30)
        for worker in workers.values():
            worker.close()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{args.name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    table = render_table(rows, args)
    (out / f"{args.name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
