"""Scheduling: the continuous-batching loop that owns the chat model.

One background thread runs :meth:`Engine._loop`. Nothing else touches the model or its KV cache.
HTTP handlers only call :meth:`Engine.submit` (thread-safe, raises when the queue is full) and read
their request's ``asyncio.Queue`` of events (``events.py``): ``Delta(text)`` any number of times,
then one ``Finished(reason, usage)`` or ``Failed(status, message)``.

Each iteration of the loop (1) admits waiting requests into free slots and prefills their prompts
(bounded by ``prefill_token_budget`` so running streams are not stalled for long), then (2) runs one
decode step for every running sequence, then (3) retires finished, cancelled or expired sequences at
once and moves the last sequence into the freed slot so the batch stays in slots ``0..B-1``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence as Seq, Tuple

import torch

from .errors import ApiError
from .events import Delta, Event, Failed, Finished
from .llama import KVCache, Llama
from .params import ChatParams

log = logging.getLogger(__name__)

MIN_PREFIX_TOKENS = 16  # shorter shared prefixes are not worth a cache entry
PREFIX_CACHE_ENTRIES = 8
PREFILL_GROUP_TOKENS = 128  # prompt tokens per prefill forward pass (see _admit)


@dataclass(eq=False)
class GenerationRequest:
    """What a handler hands to the engine. ``cancelled`` is the only field it writes later."""

    prompt_ids: List[int]
    params: ChatParams
    deadline: float  # time.monotonic() value
    prefix_len: int = 0  # leading tokens shared by many requests (the system prompt)
    events: Optional[asyncio.Queue] = None
    arrived: float = field(default_factory=time.monotonic)
    cancelled: bool = False


class _Detokenizer:
    """Incremental detokenization (as in TGI): decode a short window, never split a UTF-8 char."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: List[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def add(self, token: int) -> str:
        self.ids.append(token)
        decode = self.tokenizer.decode
        prefix = decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        text = decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        if len(text) > len(prefix) and not text.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return text[len(prefix):]
        return ""


class _Sequence:
    """Engine-side state of one running request (its slot is its index in ``Engine.running``)."""

    def __init__(self, req: GenerationRequest, tokenizer, seed_fallback: int):
        self.req = req
        self.length = 0  # tokens already in the KV cache
        self.next_token = -1  # sampled, not yet fed to the model
        self.n_generated = 0
        self.detok = _Detokenizer(tokenizer)
        self.text = ""
        self.sent = 0  # characters of self.text already emitted
        self.finish_reason: Optional[str] = None
        p = req.params
        self.generator = None
        if not p.greedy:
            self.generator = torch.Generator().manual_seed(
                (p.seed if p.seed is not None else seed_fallback) & 0xFFFF_FFFF_FFFF_FFFF)
        self.hold_back = max((len(s) for s in p.stop), default=1) - 1


class Engine:
    def __init__(self, model: Llama, tokenizer, eos_token_ids: Seq[int], *, max_batch_size: int,
                 max_queue_size: int, max_seq_len: int, prefill_token_budget: int,
                 metrics=None, threads: int = 0):
        self.model = model
        self.tokenizer = tokenizer
        self.eos = set(eos_token_ids)
        self.max_batch_size = max_batch_size
        self.max_queue_size = max_queue_size
        self.max_seq_len = max_seq_len
        self.prefill_token_budget = prefill_token_budget
        self.metrics = metrics
        self.threads = threads
        self.cache = KVCache(model.shape, max_batch_size, max_seq_len, model.cache_dtype)
        self.running: List[_Sequence] = []
        self.waiting: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._prefixes: "collections.OrderedDict[tuple, tuple]" = collections.OrderedDict()
        self._outbox: List[Tuple[GenerationRequest, Event]] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self.failure: Optional[BaseException] = None
        self._seed_counter = int(time.time_ns())
        self._recent_latency = 5.0  # seconds, smoothed; for Retry-After

    # -- called from the event loop ------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._loop_main, name="engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.failure is None

    def submit(self, req: GenerationRequest) -> None:
        """Queue a request or refuse it at once (429 when full, 503 when the engine is down)."""
        if not self.alive:
            raise ApiError(503, "the generation engine is not running", type_="server_error",
                           code="engine_unavailable")
        req.events = asyncio.Queue()
        with self._cond:
            free_slots = self.max_batch_size - len(self.running)
            if len(self.waiting) >= self.max_queue_size + max(free_slots, 0):
                retry = self.retry_after()
                if self.metrics:
                    self.metrics.rejected.inc()
                raise ApiError(429, f"server busy: {len(self.waiting)} requests waiting; retry "
                               f"in {retry} s", type_="rate_limit_error", code="queue_full",
                               headers={"Retry-After": str(retry)})
            self.waiting.append(req)
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def retry_after(self) -> int:
        rounds = (len(self.waiting) + 1) / self.max_batch_size
        return int(min(30, max(1, math.ceil(rounds * self._recent_latency))))

    # -- the engine thread ---------------------------------------------------------------------
    def _loop_main(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            while True:
                with self._cond:
                    while not self._stopping and not self.running and not self.waiting:
                        self._cond.wait(timeout=1.0)
                    if self._stopping:
                        break
                self._expire_and_cancel()
                self._admit()
                if self.running:
                    self._decode_step()
                self._retire()
                self._flush()
        except BaseException as exc:  # the loop must never die silently: callers would hang
            log.exception("engine loop failed")
            self.failure = exc
        finally:
            with self._cond:
                doomed = [s.req for s in self.running] + list(self.waiting)
                self.running, self.waiting = [], collections.deque()
            reason = "server shutting down" if self.failure is None else f"engine failed: {self.failure!r}"
            for req in doomed:
                self._emit(req, Failed(503 if self.failure is None else 500, reason))
            self._flush()
            self._update_gauges()

    def _emit(self, req: GenerationRequest, event: Event) -> None:
        self._outbox.append((req, event))

    def _flush(self) -> None:
        """Hand this step's events to the event loop in one thread-safe call."""
        if not self._outbox or self._loop is None:
            return
        batch, self._outbox = self._outbox, []

        def deliver():
            for req, event in batch:
                req.events.put_nowait(event)

        try:
            self._loop.call_soon_threadsafe(deliver)
        except RuntimeError:  # event loop already closed (shutdown)
            pass

    def _update_gauges(self) -> None:
        if self.metrics:
            self.metrics.queue_depth.set(len(self.waiting))
            self.metrics.batch_size.set(len(self.running))

    def _expire_and_cancel(self) -> None:
        now = time.monotonic()
        with self._cond:
            keep = collections.deque()
            for req in self.waiting:
                if req.cancelled:
                    self._count_cancel()
                elif now > req.deadline:
                    self._emit(req, Failed(504, "request deadline exceeded while queued"))
                else:
                    keep.append(req)
            self.waiting = keep
        for seq in self.running:
            if seq.finish_reason is None:
                if seq.req.cancelled:
                    seq.finish_reason = "cancelled"
                    self._count_cancel()
                elif now > seq.req.deadline:
                    seq.finish_reason = "deadline"
                    self._emit(seq.req, Failed(504, "request deadline exceeded"))

    def _count_cancel(self) -> None:
        if self.metrics:
            self.metrics.cancelled.inc()

    # -- admission and prefill -----------------------------------------------------------------
    def _admit(self) -> None:
        """Move waiting requests into free slots and prefill them, ``prefill_token_budget``
        prompt tokens at most per loop iteration (bounds the stall of running streams)."""
        new: List[GenerationRequest] = []
        budget = self.prefill_token_budget
        with self._cond:
            while self.waiting and len(self.running) + len(new) < self.max_batch_size:
                cost = self._prefill_cost(self.waiting[0])
                if new and cost > budget:
                    break  # the rest waits for the next iteration; streams keep flowing
                budget -= cost
                new.append(self.waiting.popleft())
        self._update_gauges()
        # Prefill in groups of ~PREFILL_GROUP_TOKENS and send each group's first tokens at once:
        # in a burst of arrivals, the first ones need not wait for the whole burst's prefill.
        group: List[GenerationRequest] = []
        group_cost = 0
        for req in new:
            cost = self._prefill_cost(req)
            if group and group_cost + cost > PREFILL_GROUP_TOKENS:
                self._prefill(group)
                group, group_cost = [], 0
            group.append(req)
            group_cost += cost
        if group:
            self._prefill(group)

    def _prefill_cost(self, req: GenerationRequest) -> int:
        cached = req.prefix_len if self._prefix_key(req) in self._prefixes else 0
        return len(req.prompt_ids) - cached

    def _prefill(self, new: List[GenerationRequest]) -> None:
        first_slot = len(self.running)
        seqs = []
        for i, req in enumerate(new):
            self._seed_counter += 1
            seqs.append(_Sequence(req, self.tokenizer, self._seed_counter))
            seqs[-1].length = self._reuse_prefix(req, first_slot + i)

        # One padded forward for all new prompts; row b starts at its own cached prefix length.
        starts = [s.length for s in seqs]
        lengths = [len(s.req.prompt_ids) for s in seqs]
        width = max(n - st for n, st in zip(lengths, starts))
        tokens = torch.zeros((len(seqs), width), dtype=torch.long)
        for b, s in enumerate(seqs):
            rest = s.req.prompt_ids[starts[b]:]
            tokens[b, : len(rest)] = torch.tensor(rest)
        positions = torch.tensor(starts).view(-1, 1) + torch.arange(width).view(1, -1)
        # Padding columns write garbage beyond the row's end (masked, later overwritten); keep
        # them inside the cache.
        positions = positions.clamp(max=self.max_seq_len - 1)
        self.cache.ensure(int(positions.max()) + 1)
        last = torch.tensor([n - st - 1 for n, st in zip(lengths, starts)])
        started = time.perf_counter()
        logits = self.model.forward(tokens, positions, self.cache, first_slot, max(lengths), last)
        if self.metrics:
            self.metrics.step_seconds.labels("prefill").observe(time.perf_counter() - started)
        now = time.monotonic()
        for b, s in enumerate(seqs):
            s.length = lengths[b]
            self.running.append(s)
            if self.metrics:
                self.metrics.prompt_tokens.inc(lengths[b])
                self.metrics.ttft.observe(now - s.req.arrived)
        self._accept_tokens(seqs, logits)
        self._update_gauges()
        self._flush()  # first tokens go out now, not after the next decode step

    def _prefix_key(self, req: GenerationRequest):
        if req.prefix_len < MIN_PREFIX_TOKENS or req.prefix_len >= len(req.prompt_ids):
            return None
        return tuple(req.prompt_ids[: req.prefix_len])

    def _reuse_prefix(self, req: GenerationRequest, slot: int) -> int:
        """Fill the slot with the cached KV of the request's shared prefix; return its length.

        A prefix seen for the first time is computed on its own forward pass, so every request
        that shares it gets bit-identical keys/values whatever batch it arrives in.
        """
        key = self._prefix_key(req)
        if key is None:
            return 0
        entry = self._prefixes.get(key)
        if entry is None:
            n = len(key)
            self.cache.ensure(n)
            self.model.forward(torch.tensor([key]), torch.arange(n).view(1, n), self.cache, slot, n)
            entry = self.cache.read_prefix(slot, n)
            self._prefixes[key] = entry
            while len(self._prefixes) > PREFIX_CACHE_ENTRIES:
                self._prefixes.popitem(last=False)
        else:
            self._prefixes.move_to_end(key)
            self.cache.write_prefix(slot, entry)
            if self.metrics:
                self.metrics.prefix_hits.inc()
        return len(key)

    # -- decoding ------------------------------------------------------------------------------
    def _decode_step(self) -> None:
        active = self.running
        tokens = torch.tensor([[s.next_token] for s in active])
        positions = torch.tensor([[s.length] for s in active])
        kv_len = int(positions.max()) + 1
        self.cache.ensure(kv_len)
        started = time.perf_counter()
        logits = self.model.forward(tokens, positions, self.cache, 0, kv_len)
        if self.metrics:
            self.metrics.step_seconds.labels("decode").observe(time.perf_counter() - started)
        for s in active:
            s.length += 1
        self._accept_tokens(active, logits)

    @staticmethod
    def _penalize(row: torch.Tensor, s: _Sequence) -> torch.Tensor:
        """OpenAI's presence and frequency penalties over the tokens generated so far."""
        p = s.req.params
        if not p.penalized or not s.detok.ids:
            return row
        tokens, counts = torch.tensor(s.detok.ids).unique(return_counts=True)
        row = row.clone()
        row[tokens] -= p.presence_penalty + p.frequency_penalty * counts.to(row.dtype)
        return row

    def _sample(self, seqs: List[_Sequence], logits: torch.Tensor) -> List[int]:
        chosen = logits.argmax(dim=-1).tolist()  # greedy rows: one op for the whole batch
        for b, s in enumerate(seqs):
            row = self._penalize(logits[b], s)
            if s.generator is None:
                if row is not logits[b]:
                    chosen[b] = int(row.argmax())
                continue
            p = s.req.params
            probs = torch.softmax(row / p.temperature, dim=-1)
            if p.top_p < 1.0:
                sorted_p, order = probs.sort(descending=True)
                # keep the smallest set whose mass reaches top_p (at least one token)
                drop = sorted_p.cumsum(0) - sorted_p >= p.top_p
                sorted_p[drop] = 0.0
                probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
            chosen[b] = int(torch.multinomial(probs, 1, generator=s.generator))
        return chosen

    def _accept_tokens(self, seqs: List[_Sequence], logits: torch.Tensor) -> None:
        for s, token in zip(seqs, self._sample(seqs, logits)):
            if s.finish_reason is not None:
                continue
            p = s.req.params
            if token in self.eos:
                s.finish_reason = "stop"
            else:
                s.n_generated += 1
                s.next_token = token
                if self.metrics:
                    self.metrics.generated_tokens.inc()
                s.text += s.detok.add(token)
                if p.stop:
                    # A stop string can only end inside the newly added text.
                    window = s.text[max(0, s.sent - s.hold_back - 1):]
                    hits = [i for i in (window.find(stop) for stop in p.stop) if i >= 0]
                    if hits:
                        s.text = s.text[: max(0, s.sent - s.hold_back - 1) + min(hits)]
                        s.finish_reason = "stop"
                if s.finish_reason is None and (
                        s.n_generated >= p.max_tokens or s.length + 1 >= self.max_seq_len):
                    s.finish_reason = "length"
            # Emit what is safe: all of it when finished, else hold back a possible stop prefix.
            upto = len(s.text) if s.finish_reason else len(s.text) - s.hold_back
            if upto > s.sent:
                self._emit(s.req, Delta(s.text[s.sent:upto]))
                s.sent = upto
            if s.finish_reason is not None:
                usage = {"prompt_tokens": len(s.req.prompt_ids),
                         "completion_tokens": s.n_generated,
                         "total_tokens": len(s.req.prompt_ids) + s.n_generated}
                self._emit(s.req, Finished(s.finish_reason, usage))
                latency = time.monotonic() - s.req.arrived
                self._recent_latency = 0.8 * self._recent_latency + 0.2 * latency

    def _retire(self) -> None:
        """Drop finished sequences now; move the last one into each hole (one small copy)."""
        for i in range(len(self.running) - 1, -1, -1):
            if self.running[i].finish_reason is None:
                continue
            last = len(self.running) - 1
            if i != last:
                self.cache.move(last, i, self.running[last].length)
                self.running[i] = self.running[last]
            self.running.pop()
        self._update_gauges()
