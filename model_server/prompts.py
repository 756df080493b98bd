"""Prompt building: chat messages -> token ids, within the server's input limits."""

from __future__ import annotations

from typing import List, NamedTuple, Sequence

from .errors import ApiError

# Prompts longer than this many characters per allowed token are refused before tokenizing,
# so a huge body cannot keep the event loop busy.
MAX_CHARS_PER_TOKEN = 16


class Prompt(NamedTuple):
    ids: List[int]
    prefix_len: int  # leading tokens of the system prompt, shareable between requests


class PromptBuilder:
    def __init__(self, tokenizer, max_input_tokens: int):
        self.tokenizer = tokenizer
        self.max_input_tokens = max_input_tokens

    def build(self, messages: Sequence[dict]) -> Prompt:
        """Chat template -> token ids, plus the length of the shareable system-prompt prefix."""
        limit = self.max_input_tokens
        chars = sum(len(m["content"]) for m in messages)
        if chars > limit * MAX_CHARS_PER_TOKEN:
            raise ApiError(413, f"messages: {chars} characters is far above the limit of "
                           f"{limit} input tokens", param="messages",
                           code="context_length_exceeded")
        messages = [dict(m) for m in messages]
        try:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      tokenize=False)
        except Exception as exc:  # a template may reject e.g. role order
            raise ApiError(400, f"messages: the chat template rejected them: {exc}",
                           param="messages") from exc
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) > limit:
            raise ApiError(400, f"messages: the prompt has {len(ids)} tokens, more than the "
                           f"maximum of {limit}", param="messages",
                           code="context_length_exceeded")
        return Prompt(ids, self._system_prefix_len(messages, text, ids))

    def _system_prefix_len(self, messages: List[dict], text: str, ids: List[int]) -> int:
        if messages[0]["role"] != "system" or len(messages) < 2:
            return 0
        system = self.tokenizer.apply_chat_template(messages[:1], tokenize=False)
        if not text.startswith(system):
            return 0
        prefix = self.tokenizer.encode(system, add_special_tokens=False)
        return len(prefix) if ids[: len(prefix)] == prefix else 0
