"""A minimal socket.io client over a raw WebSocket (Engine.IO 4, Socket.IO 5).

python-socketio's own client needs a newer aiohttp than Rasa 3.6 allows, and
tests also need to send frames that no proper client would send.
"""
import asyncio
import json
from typing import Any, List, Optional

import websockets


class SocketIOClient:
    def __init__(self, base_url: str, path: str = "/socket.io/", origin: Optional[str] = None):
        """`origin`: the Origin header a browser would send (none by default,
        as a client that is not a browser)."""
        self.url = base_url.replace("http://", "ws://") + path + "?EIO=4&transport=websocket"
        self.origin = origin
        self.ws = None
        self.events: "asyncio.Queue[List[Any]]" = asyncio.Queue()
        self._reader: Optional[asyncio.Task] = None
        self.closed = asyncio.Event()

    async def connect(self) -> "SocketIOClient":
        self.ws = await websockets.connect(self.url, max_size=None, origin=self.origin)
        opening = await asyncio.wait_for(self.ws.recv(), 10)
        assert opening.startswith("0"), opening
        await self.ws.send("40")  # join the default namespace
        joined = await asyncio.wait_for(self.ws.recv(), 10)
        assert joined.startswith("40"), joined
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame == "2":  # Engine.IO ping
                    await self.ws.send("3")
                elif isinstance(frame, str) and frame.startswith("42"):
                    await self.events.put(json.loads(frame[2:]))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def emit(self, event: str, data: Any = None) -> None:
        await self.ws.send("42" + json.dumps([event] if data is None else [event, data]))

    async def send_raw(self, frame: Any) -> None:
        await self.ws.send(frame)

    async def next_event(self, name: str, timeout: float = 30) -> Any:
        """The data of the next event called `name` (others are skipped)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            event = await asyncio.wait_for(self.events.get(), max(remaining, 0.01))
            if event[0] == name:
                return event[1] if len(event) > 1 else None

    async def session(self, session_id: Optional[str] = None) -> str:
        """The session token the server confirms for `session_id`."""
        await self.emit("session_request", {"session_id": session_id})
        return await self.next_event("session_confirm", 10)

    async def say(self, session_id: str, text: str, timeout: float = 30) -> List[str]:
        """Sends a message; returns the texts of the bot's replies (those that
        arrive within a second of each other)."""
        await self.emit("user_uttered", {"message": text, "session_id": session_id})
        texts = [(await self.next_event("bot_uttered", timeout)).get("text")]
        while True:
            try:
                texts.append((await self.next_event("bot_uttered", 1.5)).get("text"))
            except asyncio.TimeoutError:
                return texts

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
