"""`HttpBank`: the `Bank` port over HTTP (aiohttp), as the designated bank (or `exchange bank-sim`)
serves it under `/v1`.

An unknown outcome (timeout, connection lost, 5xx, an answer that cannot be read) raises
`BankUnavailableError`, and the caller retries with the same end-to-end id; a 4xx raises
`BankRefusedError` with the problem document's `code` and `detail`.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar
from urllib.parse import quote

import aiohttp
import msgspec

from settlement.bank.messages import Statement, TransferRequest, TransferResult
from settlement.bank.port import BankRefusedError, BankUnavailableError

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder()
_RESULT = msgspec.json.Decoder(TransferResult)
_STATEMENT = msgspec.json.Decoder(Statement)


class _Problem(msgspec.Struct, kw_only=True):
    code: str | None = None
    detail: str | None = None
    title: str | None = None


_PROBLEM = msgspec.json.Decoder(_Problem)


def _refusal(status: int, body: bytes) -> BankRefusedError:
    try:
        problem = _PROBLEM.decode(body)
    except msgspec.DecodeError:
        problem = _Problem()
    detail = problem.detail or problem.title or body[:200].decode("utf-8", "replace")
    return BankRefusedError(status, problem.code or f"HTTP_{status}", detail)


class HttpBank:
    """The designated bank at `base_url`, authenticated with `api_key`; every request gives up
    after `timeout` seconds."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"Authorization": f"Bearer {self._api_key}"},
            )
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[T],
        body: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> T:
        headers = {"Content-Type": "application/json"} if body is not None else None
        url = self.base_url + path
        try:
            async with self._client().request(
                method, url, data=body, params=params, headers=headers
            ) as response:
                answer = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BankUnavailableError(f"{method} {path}: {exc!r}") from exc
        if status >= 500:
            raise BankUnavailableError(f"{method} {path}: HTTP {status}")
        if status >= 400:
            raise _refusal(status, answer)
        if not 200 <= status < 300:
            raise BankUnavailableError(f"{method} {path}: unexpected HTTP {status}")
        try:
            return decoder.decode(answer)
        except msgspec.DecodeError as exc:  # the outcome is unknown: treat as unavailable
            raise BankUnavailableError(f"{method} {path}: unreadable answer: {exc}") from exc

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Order a transfer (idempotent by `request.end_to_end_id`)."""
        return await self._call(
            "POST",
            "/v1/transfers",
            _RESULT,
            body=_ENCODER.encode(request),
        )

    async def statement(self, account: str, day: date) -> Statement:
        """The account's statement for one UTC day."""
        path = f"/v1/accounts/{quote(account, safe='')}/statement"
        return await self._call("GET", path, _STATEMENT, params={"date": day.isoformat()})

    async def __aenter__(self) -> HttpBank:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
