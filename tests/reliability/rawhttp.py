"""Requests as raw bytes on a socket: what a well-behaved HTTP client would never send."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def problem(self) -> dict[str, Any]:
        """The problem document; fails unless the answer is application/problem+json."""
        assert self.headers.get("content-type") == "application/problem+json", self
        return json.loads(self.body)  # type: ignore[no-any-return]


def _parse(data: bytes) -> RawReply:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawReply(status, headers, body)


async def _send(
    writer: asyncio.StreamWriter, head: bytes, body: bytes, chunks: list[bytes] | None
) -> None:
    writer.write(head)
    if chunks is None:
        writer.write(body)
    else:
        for chunk in chunks:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
    await writer.drain()


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):  # what came before a reset is kept
        while chunk := await asyncio.wait_for(reader.read(65536), 30):
            data += chunk
    return data


async def raw_request(
    base_url: str,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    body: bytes = b"",
    *,
    chunks: list[bytes] | None = None,
) -> RawReply:
    """Send one request exactly as given (Connection: close) and read the whole answer."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        lines = [
            method.encode() + b" " + target + b" HTTP/1.1",
            b"Host: test",
            b"Connection: close",
        ]
        lines += [name + b": " + value for name, value in headers]
        if chunks is not None:
            lines.append(b"Transfer-Encoding: chunked")
        elif body or method in ("POST", "PATCH", "PUT"):
            lines.append(b"Content-Length: " + str(len(body)).encode())
        # the server may answer and close before it has read everything
        with contextlib.suppress(OSError):
            await _send(writer, b"\r\n".join(lines) + b"\r\n\r\n", body, chunks)
        data = await _read_all(reader)
    finally:
        writer.close()
    return _parse(data)
