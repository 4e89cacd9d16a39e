"""The designated bank's signed notifications (docs/payments.md, "The designated bank")."""

from __future__ import annotations

from aiohttp import web

from exchange.api.endpoint import Context, Routes, decode_json
from exchange.appkeys import CLOCK, MARKET, RUNTIME, SETTINGS
from exchange.contracts import lifecycle
from exchange.contracts.views import contract_from_row
from exchange.errors import invalid_field
from exchange.messages.payments import NotificationOutcome
from exchange.payments.errors import BankNotConfiguredError, InvalidSignatureError
from exchange.payments.notices import Notices
from exchange.payments.notifications import Outcome, apply_notification, funded_contract
from settlement.bank.messages import Notification
from settlement.bank.signing import HEADER, SignatureError, verify

routes = Routes("bank")


async def announce(app: web.Application, outcome: Outcome, notices: Notices) -> None:
    """After commit: the money notices, and the contract's notice if the payment funded it."""
    notices.publish(app[MARKET])
    contract_id = funded_contract(outcome)
    if contract_id is not None:
        row = await lifecycle.fetch_contract(app[RUNTIME].pool, contract_id)
        if row is not None:
            app[MARKET].contract_changed("funded", contract_from_row(row))


@routes.route(
    "POST",
    "/v1/bank/notifications",
    summary="A notification from the designated bank, signed in the Bank-Signature header"
    " (t=<unix>,v1=<hex HMAC-SHA256(secret, t + '.' + raw body)>, five minutes' tolerance);"
    " applied once by event_id, a duplicate gets the first outcome",
    public=True,
    signed=True,
    body=Notification,
    response=NotificationOutcome,
    errors=[401, 503],
)
async def receive_notification(ctx: Context) -> Outcome:
    settings = ctx.app[SETTINGS]
    if not settings.bank_secret:
        raise BankNotConfiguredError()
    raw = await ctx.request.read()
    now = ctx.app[CLOCK].now()
    try:
        verify(
            settings.bank_secret.encode(),
            raw,
            ctx.request.headers.get(HEADER),
            int(now.timestamp()),
        )
    except SignatureError as exc:
        raise InvalidSignatureError(str(exc)) from None
    notification: Notification = decode_json(raw, Notification)
    expected = settings.bank_account_prefix + notification.currency
    if notification.account != expected:
        raise invalid_field(
            "UNKNOWN_ACCOUNT", "account", f"the center's account in {notification.currency!r}"
            f" is {expected!r}",
        )  # fmt: skip
    notices = Notices()
    async with ctx.transaction() as conn:
        outcome = await apply_notification(conn, notification, raw, "notification", now, notices)
    await announce(ctx.app, outcome, notices)
    return outcome
