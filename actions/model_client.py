"""A small async client for an OpenAI-compatible model server (ours, vLLM or
TGI: only the URL changes). Every call has a hard timeout; failures raise
`ModelServerError` so callers can fall back instead of hanging."""
import asyncio
import math
from typing import Dict, List, Optional

import aiohttp


class ModelServerError(Exception):
    """The model server was down, slow, or answered with an error."""


class ModelClient:
    def __init__(
        self, base_url: str, chat_model: str, embedding_model: str, embedding_url: str = ""
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # a chat-only server (vLLM serves one model) leaves embeddings to another
        self.embedding_url = (embedding_url or base_url).rstrip("/")
        self.chat_model = chat_model
        self.embedding_model = embedding_model
        # one connection pool per event loop (tests run several loops)
        self._sessions: Dict[int, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(id(loop))
        if session is None or session.closed:
            session = aiohttp.ClientSession()
            self._sessions[id(loop)] = session
        return session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def _post(
        self, path: str, payload: Dict, timeout_s: float, base_url: Optional[str] = None
    ) -> Dict:
        try:
            async with self._session().post(
                f"{base_url or self.base_url}{path}",
                json=payload,
                # aiohttp rounds timeouts over `ceil_threshold` (5 s) up to the
                # next whole second: up to a second past the caller's deadline
                timeout=aiohttp.ClientTimeout(total=timeout_s, ceil_threshold=math.inf),
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200:
                    raise ModelServerError(f"{path} answered {response.status}: {body}")
                return body
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise ModelServerError(f"{path} failed: {error!r}") from error

    async def embed(self, texts: List[str], timeout_s: float) -> List[List[float]]:
        body = await self._post(
            "/embeddings", {"model": self.embedding_model, "input": texts}, timeout_s,
            base_url=self.embedding_url,
        )
        data = sorted(body["data"], key=lambda item: item["index"])
        return [item["embedding"] for item in data]

    async def chat(
        self,
        messages: List[Dict[str, str]],
        max_tokens: int,
        timeout_s: float,
        temperature: float = 0.0,
        stop: Optional[List[str]] = None,
        frequency_penalty: float = 0.0,
    ) -> str:
        payload = {
            "model": self.chat_model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            payload["stop"] = stop
        if frequency_penalty:  # OpenAI's parameter: ours, vLLM and TGI's OpenAI API take it
            payload["frequency_penalty"] = frequency_penalty
        body = await self._post("/chat/completions", payload, timeout_s)
        try:
            return body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise ModelServerError(f"unexpected completion: {body}") from error
