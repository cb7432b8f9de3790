"""A small keep-alive HTTP/1.1 client on asyncio streams for the load harness.

httpx cost ~3 ms of client CPU per request here, more than the server spent answering it: 100
simulated annotators (~450 requests/s) would have needed more than the machine's two cores for the
clients alone. This client does only what the harness needs (GET/POST, cookies, Content-Length and
chunked bodies, up to ``max_connections`` kept-alive connections per simulated browser) at a small
fraction of that cost. Errors surface as exceptions named after what went wrong.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from urllib.parse import urlencode


class ServerDisconnected(ConnectionError):
    """The server closed the connection before a complete response."""


class Response:
    __slots__ = ("status_code", "headers", "content", "set_cookies")

    def __init__(self, status: int, headers: dict[str, str], content: bytes, set_cookies: list[str]) -> None:
        self.status_code = status
        self.headers = headers
        self.content = content
        self.set_cookies = set_cookies

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):  # noqa: ANN201 - whatever the body holds
        return jsonlib.loads(self.content)


class BrowserClient:
    """One simulated browser: its cookies and up to ``max_connections`` keep-alive connections to one host."""

    def __init__(self, host: str, port: int, max_connections: int = 6, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.cookies: dict[str, str] = {}
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return await self.request("GET", path, headers=headers)

    async def post(
        self, path: str, data: dict | None = None, json: object = None, headers: dict[str, str] | None = None
    ) -> Response:
        if json is not None:
            body, ctype = jsonlib.dumps(json).encode(), "application/json"
        else:
            body, ctype = urlencode(data or {}).encode(), "application/x-www-form-urlencoded"
        return await self.request("POST", path, body, {"Content-Type": ctype, **(headers or {})})

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Response:
        async with self._slots:
            return await asyncio.wait_for(self._exchange(method, path, body, headers or {}), self.timeout)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def __aenter__(self) -> BrowserClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        lines += [f"{k}: {v}" for k, v in headers.items()]
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            response = await _read_response(reader)
        except BaseException:
            writer.close()
            raise
        for raw in response.set_cookies:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in rest.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        if response.headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return response


async def _read_response(reader: asyncio.StreamReader) -> Response:
    status_line = await reader.readline()
    if not status_line:
        raise ServerDisconnected("server disconnected without sending a response")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[str, str] = {}
    cookies: list[str] = []
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ServerDisconnected("server disconnected in the response headers")
        key, _, value = line.decode("latin-1").partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "set-cookie":
            cookies.append(value)
        headers[key] = value
    try:
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readline()
            content = b"".join(parts)
        elif status in (204, 304):
            content = b""
        else:
            content = await reader.read()
            headers["connection"] = "close"
    except asyncio.IncompleteReadError as exc:
        raise ServerDisconnected("server disconnected in the response body") from exc
    return Response(status, headers, content, cookies)
