"""A printable HTML view of a contract, for the parties' records."""

from __future__ import annotations

from html import escape

from exchange.messages.contracts import Contract, HistoryEntry

_STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 52rem; margin: 2rem auto;
       color: #111; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem;
     border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 0.25rem 0.5rem;
     vertical-align: top; text-align: left; border-bottom: 1px solid #ddd; }
th { width: 32%; font-weight: normal; color: #444; }
code { font-family: 'DejaVu Sans Mono', monospace; font-size: 0.8rem; word-break: break-all; }
.status { display: inline-block; padding: 0.1rem 0.5rem; border: 1px solid #333; }
@media print { body { margin: 0; } }
"""


def _rows(pairs: list[tuple[str, object]]) -> str:
    return "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(str(value))}</td></tr>" for label, value in pairs
    )


def render(contract: Contract, history: list[HistoryEntry], public_key_pem: str) -> str:
    """Every term, the status and its history, and what is needed to verify the signature."""
    t = contract.terms
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        ("Parties", [
            ("Seller", f"{t.seller.legal_name} (registration {t.seller.registration_number},"
                       f" participant {t.seller.participant_id})"),
            ("Buyer", f"{t.buyer.legal_name} (registration {t.buyer.registration_number},"
                      f" participant {t.buyer.participant_id})"),
        ]),
        ("Goods and price", [
            ("Commodity", f"{t.goods.name} ({t.goods.commodity})"),
            ("Quantity", f"{t.quantity} {t.goods.unit}"),
            ("Unit price", f"{t.unit_price} {t.currency} per {t.goods.unit}"),
            ("Amount", f"{t.amount} {t.currency}"),
            ("Center's fee", f"{t.fee.amount} {t.currency} ({t.fee.rate_bps} bp), paid by the"
                             f" {t.fee.payer}, withheld from the escrow release"),
        ]),
        ("Delivery", [
            ("Delivery region", t.delivery.region or "(none)"),
            ("Origin region", t.delivery.origin_region or "(none)"),
            ("Transport", t.delivery.transport),
            ("Delivery window", f"within {t.delivery.lead_days} days after the payment is in"
                                " escrow"),
        ]),
        ("Payment", [
            ("Method", t.payment.method),
            ("Due", f"within {t.payment.due_within_hours} hours after the contract takes effect"
                    + (f" (by {contract.payment_due_at.isoformat()})"
                       if contract.payment_due_at else "")),
        ]),
        ("Breach and claims", [
            ("Late payment", f"{t.breach.late_payment_penalty_bps_per_day} bp of the amount per"
                             " day late"),
            ("Late delivery", f"{t.breach.late_delivery_penalty_bps_per_day} bp of the amount"
                              " per day late"),
            ("Claims", f"within {t.breach.claim_window_days} days after delivery"),
        ]),
        ("Record", [
            ("Rules version", t.rules_version),
            ("Signed at", t.signed_at.isoformat()),
            ("Operator review", "required" if t.review_required else "not required"),
            ("Source", f"{t.source.kind} {t.source.id}" if t.source else "book"),
            ("Trade", f"{t.trade.trade_id} (buy order {t.trade.buy_order_id}, sell order"
                      f" {t.trade.sell_order_id})" if t.trade else "(none)"),
            ("Position in chain", t.chain_position),
        ]),
    ]  # fmt: skip
    body = "".join(
        f"<h2>{escape(title)}</h2><table>{_rows(rows)}</table>" for title, rows in sections
    )
    changes = "".join(
        f"<tr><td>{escape(h.at.isoformat())}</td><td>{escape(str(h.from_status or ''))}</td>"
        f"<td>{escape(str(h.to_status))}</td><td>{escape(h.reason or '')}</td></tr>"
        for h in history
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Contract {escape(contract.number)}</title><style>{_STYLE}</style></head>
<body>
<h1>Contract {escape(contract.number)}</h1>
<p>Status: <span class="status">{escape(str(contract.status))}</span></p>
{body}
<h2>History</h2>
<table><tr><th>At</th><th>From</th><th>To</th><th>Reason</th></tr>{changes}</table>
<h2>Verification</h2>
<table>
<tr><th>Hash (SHA-256 of the canonical terms)</th><td><code>{escape(contract.hash)}</code></td></tr>
<tr><th>Previous contract's hash</th><td><code>{escape(contract.previous_hash)}</code></td></tr>
<tr><th>Signature (Ed25519, base64)</th><td><code>{escape(contract.signature)}</code></td></tr>
<tr><th>Center's public key</th><td><code>{escape(public_key_pem)}</code></td></tr>
</table>
<p>The canonical terms are at <code>/v1/contracts/{contract.id}/verification</code>.</p>
</body></html>"""
