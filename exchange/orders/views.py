"""Wire views of orders, fills and trades, from the batch's rows or stored rows."""

from __future__ import annotations

import asyncpg

from exchange.clock import ns_to_datetime
from exchange.messages.orders import (
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    PublicTrade,
    Side,
    TimeInForce,
)
from exchange.orders.projection import NewOrder, TradeRow
from exchange.reference import CommoditySpec


def order_from_new(spec: CommoditySpec, order: NewOrder) -> Order:
    command = order.command
    created = ns_to_datetime(command.timestamp)
    return Order(
        id=command.order_id,
        client_order_id=order.client_order_id,
        commodity=spec.code,
        side=Side(command.side),
        price=spec.price_text(order.price),
        quantity=spec.quantity_text(order.quantity),
        open_quantity=spec.quantity_text(order.open_lots),
        filled_quantity=spec.quantity_text(order.filled_lots),
        time_in_force=TimeInForce(command.time_in_force),
        min_fill_quantity=spec.quantity_text(command.min_fill) if command.min_fill else None,
        expires_at=ns_to_datetime(command.expires_at) if command.expires_at else None,
        region=order.region_code,
        status=order.status,
        reason=order.reason,
        created_at=created,
        updated_at=ns_to_datetime(order.updated_ns) if order.updated_ns else created,
    )


def order_from_row(spec: CommoditySpec, row: asyncpg.Record) -> Order:
    return Order(
        id=row["id"],
        client_order_id=row["client_order_id"],
        commodity=spec.code,
        side=Side(row["side"]),
        price=spec.price_text(row["price_ticks"]),
        quantity=spec.quantity_text(row["quantity_lots"]),
        open_quantity=spec.quantity_text(row["open_lots"]),
        filled_quantity=spec.quantity_text(row["filled_lots"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        min_fill_quantity=(
            spec.quantity_text(row["min_fill_lots"]) if row["min_fill_lots"] else None
        ),
        expires_at=row["expires_at"],
        region=row["region_code"],
        status=OrderStatus(row["status"]),
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def public_trade(spec: CommoditySpec, trade: TradeRow) -> PublicTrade:
    return PublicTrade(
        id=trade.id,
        commodity=spec.code,
        price=spec.price_text(trade.price),
        quantity=spec.quantity_text(trade.quantity),
        taker_side=trade.taker_side,
        executed_at=ns_to_datetime(trade.executed_ns),
    )


def fills_of(spec: CommoditySpec, trade: TradeRow) -> list[tuple[int, Fill]]:
    """The trade as each of its two participants sees it: (participant id, fill)."""
    price = spec.price_text(trade.price)
    quantity = spec.quantity_text(trade.quantity)
    executed = ns_to_datetime(trade.executed_ns)
    buyer_took = trade.taker_side is Side.BUY
    return [
        (
            trade.buyer_id,
            Fill(
                trade_id=trade.id, order_id=trade.buy_order_id, commodity=spec.code,
                side=Side.BUY, price=price, quantity=quantity,
                liquidity=Liquidity.TAKER if buyer_took else Liquidity.MAKER,
                counterparty_id=trade.seller_id, region=trade.buyer_region,
                executed_at=executed,
            ),
        ),
        (
            trade.seller_id,
            Fill(
                trade_id=trade.id, order_id=trade.sell_order_id, commodity=spec.code,
                side=Side.SELL, price=price, quantity=quantity,
                liquidity=Liquidity.MAKER if buyer_took else Liquidity.TAKER,
                counterparty_id=trade.buyer_id, region=trade.seller_region,
                executed_at=executed,
            ),
        ),
    ]  # fmt: skip
