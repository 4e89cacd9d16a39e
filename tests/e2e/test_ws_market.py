"""The WebSocket: snapshots then updates, sequences, privacy, errors, slow consumers."""

from __future__ import annotations

import asyncio
import itertools
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from exchange.market.feed import CommittedBatch, LevelUpdate
from exchange.messages.orders import Fill, Liquidity, Order, OrderStatus, PublicTrade, Side
from exchange.messages.orders import TimeInForce as Tif
from tests.e2e.market_support import insert_trades, new_commodity, spec_of, traders
from tests.factories import Api, new_participant

WAIT = 5.0


BACKGROUND = ("delivery",)


class Socket:
    """A WebSocket client that reads JSON messages with a timeout."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: Any) -> None:
        await self.ws.send_json(message)

    async def recv(self) -> dict[str, Any]:
        frame = await self.ws.receive(timeout=WAIT)
        assert frame.type == aiohttp.WSMsgType.TEXT, frame
        return frame.json()  # type: ignore[no-any-return]

    async def next(
        self, kind: str, *, skipping: tuple[str, ...] = ("heartbeat",)
    ) -> dict[str, Any]:
        """The next message of a type; only types in `skipping` may come before it, and
        `delivery` messages, which the routing sweep sends whenever it moves a task of a funded
        contract (a test that waits for them names them)."""
        while True:
            message = await self.recv()
            if message["type"] == kind:
                return message
            assert message["type"] in (*skipping, *BACKGROUND), message

    async def subscribe(self, *channels: dict[str, Any]) -> dict[str, Any]:
        await self.send({"type": "subscribe", "channels": list(channels)})
        return await self.next("subscribed")


async def connect(client: Api, **kwargs: Any) -> Socket:
    ws = await client.http.ws_connect(
        client.base_url + "/v1/ws", headers={"Authorization": f"Bearer {client.key}"}, **kwargs
    )
    return Socket(ws)


def order(oid: int, code: str, status: OrderStatus = OrderStatus.OPEN) -> Order:
    now = datetime.now(UTC)
    return Order(
        id=oid, client_order_id=f"c{oid}", commodity=code, side=Side.BUY, price="50.00",
        quantity="1.000000", open_quantity="1.000000", filled_quantity="0.000000",
        time_in_force=Tif.GTC, min_fill_quantity=None, expires_at=None, region=None,
        status=status, reason=None, created_at=now, updated_at=now,
    )  # fmt: skip


def fill(trade_id: int, oid: int, code: str, counterparty: int) -> Fill:
    return Fill(
        trade_id=trade_id, order_id=oid, commodity=code, side=Side.BUY, price="50.00",
        quantity="1.000000", liquidity=Liquidity.MAKER, counterparty_id=counterparty,
        region=None, executed_at=datetime.now(UTC),
    )  # fmt: skip


def trade(trade_id: int, code: str, price: str = "50.00") -> PublicTrade:
    return PublicTrade(
        id=trade_id, commodity=code, price=price, quantity="1.000000",
        taker_side=Side.BUY, executed_at=datetime.now(UTC),
    )  # fmt: skip


def replay(book: dict[str, dict[str, str]], message: dict[str, Any]) -> None:
    for side in ("bids", "asks"):
        if message["type"] == "book_snapshot":
            book[side] = {}
        for price, quantity in message[side]:
            if quantity == "0.000000":
                book[side].pop(price, None)
            else:
                book[side][price] = quantity


@pytest.fixture(scope="module")
async def reader(operator):
    _, client = await new_participant(operator, ["buyer"])
    return client


async def test_book_snapshot_then_updates_replay_to_the_rest_book(operator, reader, db, market):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    market.book_loaded(spec, 3, [(100, 2), (99, 4)], [(102, 1)])
    sock = await connect(reader)
    await sock.subscribe({"name": "book", "commodity": code})
    snapshot = await sock.next("book_snapshot")
    batches = [
        [LevelUpdate(Side.BUY, 100, 0), LevelUpdate(Side.SELL, 101, 6)],
        [LevelUpdate(Side.BUY, 98, 2), LevelUpdate(Side.SELL, 102, 3)],
        [LevelUpdate(Side.SELL, 101, 1), LevelUpdate(Side.SELL, 101, 0)],
    ]

    for number, levels in enumerate(batches, start=4):
        market.committed(spec, CommittedBatch(sequence=number, levels=levels))
    updates = [await sock.next("book_update") for _ in batches]
    rest = await reader.get(f"/v1/markets/{code}/book")

    book: dict[str, dict[str, str]] = {}
    for message in [snapshot, *updates]:
        replay(book, message)
    assert snapshot["book_sequence"] == 3
    assert [u["sequence"] for u in updates] == [snapshot["sequence"] + i for i in (1, 2, 3)]
    assert [u["book_sequence"] for u in updates] == [4, 5, 6]
    assert updates[2]["asks"] == [["50.50", "0.000000"]]
    assert rest.body["sequence"] == updates[-1]["book_sequence"]
    assert [[p, q] for p, q in book["bids"].items()] == rest.body["bids"]
    assert sorted([p, q] for p, q in book["asks"].items()) == rest.body["asks"]
    await sock.ws.close()


async def test_trades_channel_sequences_increment_and_snapshot_has_recent_trades(
    operator, reader, db, market
):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    await insert_trades(db, spec, await traders(operator), [(1, 100, 2, datetime.now(UTC))])
    sock = await connect(reader)
    await sock.subscribe({"name": "trades", "commodity": code})
    snapshot = await sock.next("trades")

    market.committed(spec, CommittedBatch(sequence=2, trades=[trade(2, code)]))
    market.committed(spec, CommittedBatch(sequence=3, trades=[trade(3, code), trade(4, code)]))
    first, second = await sock.next("trades"), await sock.next("trades")

    assert [t["id"] for t in snapshot["trades"]] == [1]
    assert snapshot["trades"][0]["price"] == "50.00"
    assert (first["sequence"], second["sequence"]) == (
        snapshot["sequence"] + 1,
        snapshot["sequence"] + 2,
    )
    assert [t["id"] for t in second["trades"]] == [3, 4]
    await sock.ws.close()


async def test_user_channel_shows_only_the_subscribers_own_orders_and_fills(operator, market, db):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    alice, alice_api = await new_participant(operator, ["buyer"])
    bob, bob_api = await new_participant(operator, ["supplier"])
    a, b = await connect(alice_api), await connect(bob_api)
    await a.subscribe({"name": "user"})
    await b.subscribe({"name": "user"})
    snapshots = [await a.next("user_snapshot"), await b.next("user_snapshot")]

    market.committed(
        spec,
        CommittedBatch(
            sequence=1,
            orders=[(alice["id"], order(11, code)), (bob["id"], order(12, code))],
            fills=[(alice["id"], fill(1, 11, code, bob["id"])), (bob["id"], fill(1, 12, code, 0))],
        ),
    )
    market.committed(spec, CommittedBatch(sequence=2, orders=[(bob["id"], order(13, code))]))
    market.committed(spec, CommittedBatch(sequence=3, orders=[(alice["id"], order(14, code))]))
    a1, a2 = await a.next("user"), await a.next("user")
    b1, b2 = await b.next("user"), await b.next("user")

    assert snapshots == [{"type": "user_snapshot", "sequence": 0, "orders": []}] * 2
    assert (a1["sequence"], b1["sequence"]) == (1, 1)
    assert [o["id"] for o in a1["orders"]] == [11]
    assert [f["order_id"] for f in a1["fills"]] == [11]
    assert [o["id"] for o in a2["orders"]] == [14]  # bob's order 13 never reached alice
    assert a2["sequence"] == a1["sequence"] + 1
    assert [o["id"] for o in b1["orders"]] == [12]
    assert [o["id"] for o in b2["orders"]] == [13]
    assert (b1["book_sequence"], b2["book_sequence"]) == (1, 2)
    await a.ws.close()
    await b.ws.close()


async def test_unsubscribe_stops_messages(operator, reader, db, market):
    code, other = await new_commodity(operator), await new_commodity(operator)
    spec = await spec_of(db, code)
    sock = await connect(reader)
    await sock.subscribe({"name": "trades", "commodity": code})
    await sock.next("trades")

    await sock.send({"type": "unsubscribe", "channels": [{"name": "trades", "commodity": code}]})
    acknowledged = await sock.next("unsubscribed")
    market.committed(spec, CommittedBatch(sequence=1, trades=[trade(1, code)]))
    await sock.subscribe({"name": "book", "commodity": other})
    after = await sock.next("book_snapshot")  # anything still flowing would come first

    assert acknowledged["channels"] == [{"name": "trades", "commodity": code}]
    assert after["commodity"] == other
    await sock.ws.close()


async def test_heartbeat_arrives_every_second_in_sequence(reader, market):
    sock = await connect(reader)
    await sock.subscribe({"name": "heartbeat"})

    beats = [await sock.next("heartbeat") for _ in range(4)]

    times = [datetime.fromisoformat(beat["time"]) for beat in beats]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert market.heartbeat_interval == 1.0  # the documented default
    assert [beat["sequence"] for beat in beats] == [beats[0]["sequence"] + i for i in range(4)]
    assert all(0.95 <= gap <= 1.5 for gap in gaps), gaps
    await sock.ws.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "MALFORMED_REQUEST"),
        (b'{"type": "subscribe", "channels": [{"name": "book", "commodity": "\xff"}]}',
         "INVALID_UTF8"),
        ({"type": "dance"}, "VALIDATION_FAILED"),
        ({"type": "subscribe", "channels": [{"name": "book"}]}, "VALIDATION_FAILED"),
        ({"type": "subscribe", "channels": [{"name": "user", "commodity": "X"}]},
         "VALIDATION_FAILED"),
        ({"type": "subscribe", "channels": []}, "VALIDATION_FAILED"),
        ({"type": "subscribe", "channels": [{"name": "book", "commodity": "NOPE-1"}]},
         "UNKNOWN_COMMODITY"),
    ],
)  # fmt: skip
async def test_a_bad_message_gets_an_error_and_the_socket_stays_open(reader, message, code):
    sock = await connect(reader)

    if isinstance(message, str):
        await sock.ws.send_str(message)
    elif isinstance(message, bytes):
        await sock.ws.send_bytes(message)
    else:
        await sock.send(message)
    error = await sock.next("error")
    still_open = await sock.subscribe({"name": "heartbeat"})

    assert error["code"] == code
    assert error["message"]
    assert still_open["channels"] == [{"name": "heartbeat"}]
    await sock.ws.close()


async def test_ticker_and_candles_follow_committed_trades(operator, reader, db, market):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    sock = await connect(reader)
    await sock.subscribe(
        {"name": "ticker", "commodity": code}, {"name": "candles", "commodity": code}
    )
    first_ticker, first_candles = await sock.next("ticker"), await sock.next("candles")
    executed = datetime.now(UTC)
    await insert_trades(db, spec, await traders(operator), [(1, 8000, 2, executed)])

    market.committed(
        spec, CommittedBatch(sequence=1, trades=[trade(1, code, "4000.00")])
    )  # the writer calls this after its commit
    ticker, candles = await sock.next("ticker"), await sock.next("candles")

    assert first_ticker["ticker"]["last_price"] is None
    assert first_candles["candles"] == []
    assert ticker["sequence"] == first_ticker["sequence"] + 1
    assert ticker["ticker"]["last_price"] == "4000.00"
    assert ticker["ticker"]["volume_24h"] == "1.000000"
    assert [(c["open"], c["close"], c["volume"], c["trades"]) for c in candles["candles"]] == [
        ("4000.00", "4000.00", "1.000000", 1)
    ]
    await sock.ws.close()


async def test_unauthenticated_and_suspended_are_refused(operator, anonymous):
    participant, client = await new_participant(operator, ["buyer"])
    await operator.post(f"/v1/participants/{participant['id']}/suspend")

    with pytest.raises(aiohttp.WSServerHandshakeError) as missing:
        await anonymous.http.ws_connect(anonymous.base_url + "/v1/ws")
    with pytest.raises(aiohttp.WSServerHandshakeError) as suspended:
        await connect(client)

    assert missing.value.status == 401
    assert suspended.value.status == 403


def _small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


async def test_slow_consumer_is_told_and_dropped_while_others_keep_receiving(
    operator, reader, db, market
):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    fast = await connect(reader)
    await fast.subscribe({"name": "book", "commodity": code})
    await fast.next("book_snapshot")
    default_limit, market.hub.queue_limit = market.hub.queue_limit, 4
    connector = aiohttp.TCPConnector(socket_factory=_small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as own:
        slow = await connect(Api(own, reader.base_url, reader.key), max_msg_size=0)
        market.hub.queue_limit = default_limit
        await slow.subscribe({"name": "book", "commodity": code})
        await slow.next("book_snapshot")
        dropped = market.hub.metrics.ws_slow_consumers._value.get()
        wide = [LevelUpdate(Side.SELL, 10_000 + i, 1) for i in range(2000)]  # ~50 kB a message

        sent = 0
        async with asyncio.timeout(20):
            while market.hub.metrics.ws_slow_consumers._value.get() == dropped:
                sent += 1
                market.committed(spec, CommittedBatch(sequence=sent, levels=wide))
                update = await fast.next("book_update")  # the fast reader keeps up
                assert update["book_sequence"] == sent
        market.committed(spec, CommittedBatch(sequence=sent + 1, levels=wide[:1]))
        after = await fast.next("book_update")
        told = await slow.next("error", skipping=("book_update",))  # it reads its backlog
        closing = await slow.ws.receive(timeout=WAIT)

    metrics = await reader.get("/metrics")
    assert after["book_sequence"] == sent + 1
    assert told["code"] == "SLOW_CONSUMER"
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert f"ws_slow_consumers_dropped_total {dropped + 1}" in metrics.body
    await fast.ws.close()
