"""Properties of the simulated bank's books over random sequences of operations: money is
conserved, no account goes below zero, every retry gets the first answer, and each day's
statement adds up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.bank.messages import OpenAccount, TransferRequest, TransferStatus
from settlement.bank.simulator.errors import BankSimError
from settlement.bank.simulator.state import BankState
from settlement.money import parse_scaled

T0 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
HOLDERS = 4  # the center's EUR account is index HOLDERS

operation = st.one_of(
    st.tuples(
        st.just("pay"),
        st.integers(0, HOLDERS),
        st.integers(0, HOLDERS),
        st.integers(1, 600),
        st.integers(0, 12),  # end-to-end id: small, so ids repeat
    ),
    st.tuples(st.just("return"), st.integers(0, 12)),
    st.tuples(st.just("close"), st.integers(0, HOLDERS - 1)),
)


def cents(text: str) -> int:
    return parse_scaled(text.lstrip("-"), 2) * (-1 if text.startswith("-") else 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=40))
def test_books_stay_consistent(operations: list[tuple]) -> None:
    bank = BankState("P")
    accounts = [
        bank.open_account(
            OpenAccount(holder=f"H{i}", currency="EUR", opening_balance="10.00")
        ).number
        for i in range(HOLDERS)
    ] + ["CENTER-EUR"]
    total = 10_00 * HOLDERS
    answers: dict[str, tuple[TransferRequest, object]] = {}
    now = T0
    for step in operations:
        now += timedelta(minutes=7)  # crosses midnight
        try:
            if step[0] == "pay":
                _, debtor, creditor, amount, n = step
                order = TransferRequest(
                    end_to_end_id=f"E{n}",
                    debtor_account=accounts[debtor],
                    creditor_account=accounts[creditor],
                    amount=f"{amount // 100}.{amount % 100:02d}",
                    currency="EUR",
                    reference="RF18C1",
                )
                outcome = bank.transfer(order, now)
                if order.end_to_end_id in answers and answers[order.end_to_end_id][0] == order:
                    assert outcome.replayed
                    assert outcome.result == answers[order.end_to_end_id][1]
                answers.setdefault(order.end_to_end_id, (order, outcome.result))
            elif step[0] == "return":
                result = bank.return_transfer(f"E{step[1]}", now).result
                assert result.status is TransferStatus.RETURNED
            else:
                bank.close_account(accounts[step[1]])
        except BankSimError:
            pass
        balances = [cents(bank.account(a).balance) for a in accounts]
        assert sum(balances) == total
        assert min(balances) >= 0
    for account in accounts:
        day = T0.date()
        while day <= now.date():
            statement = bank.statement(account, day)
            moved = sum(cents(e.amount) for e in statement.entries)
            assert cents(statement.opening_balance) + moved == cents(statement.closing_balance)
            day += timedelta(days=1)
        assert cents(statement.closing_balance) == cents(bank.account(account).balance)
