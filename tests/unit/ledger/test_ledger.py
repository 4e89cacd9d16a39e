"""The ledger's rules, case by case."""

from __future__ import annotations

import pytest

from settlement.ledger import (
    Account,
    AccountId,
    AccountKind,
    Balance,
    Cause,
    Ledger,
    PendingState,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

BANK, BUYER, SELLER, ESCROW, FEES, OTHER_CCY = (AccountId(n) for n in (1, 2, 3, 4, 5, 6))
CAUSE = Cause(kind="contract", reference="C-1")


def _ledger() -> Ledger:
    ledger = Ledger()
    opened = ledger.open_accounts(
        [
            Account(id=BANK, currency="EUR", kind=AccountKind.CLEARING, limited=False),
            Account(id=BUYER, currency="EUR", kind=AccountKind.AVAILABLE, limited=True),
            Account(id=SELLER, currency="EUR", kind=AccountKind.AVAILABLE, limited=True),
            Account(id=ESCROW, currency="EUR", kind=AccountKind.ESCROW, limited=True),
            Account(id=FEES, currency="EUR", kind=AccountKind.REVENUE, limited=False),
            Account(id=OTHER_CCY, currency="USD", kind=AccountKind.AVAILABLE, limited=True),
        ]
    )
    assert {o.result for o in opened} == {Result.OK}
    return ledger


def _t(
    tid: int,
    debit: AccountId,
    credit: AccountId,
    amount: int,
    flags: TransferFlags = TransferFlags.NONE,
    pending: int | None = None,
    currency: str = "EUR",
) -> Transfer:
    return Transfer(
        id=TransferId(tid), debit_account=debit, credit_account=credit, amount=amount,
        currency=currency, cause=CAUSE, flags=flags,
        pending_id=TransferId(pending) if pending is not None else None,
    )  # fmt: skip


def _deposit(ledger: Ledger, tid: int, account: AccountId, amount: int) -> None:
    [outcome] = ledger.execute([_t(tid, BANK, account, amount)])
    assert outcome.result is Result.OK


def _total(ledger: Ledger) -> tuple[int, int]:
    balances = [ledger.balance(a.id) for a in ledger.accounts()]
    posted = sum(b.credits_posted - b.debits_posted for b in balances)
    pending = sum(b.credits_pending - b.debits_pending for b in balances)
    return posted, pending


def test_a_transfer_moves_money_and_the_sum_stays_zero():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 10_000)

    [outcome] = ledger.execute([_t(2, BUYER, ESCROW, 2_500)])

    assert (outcome.result, outcome.replayed) == (Result.OK, False)
    assert ledger.balance(BUYER) == Balance(credits_posted=10_000, debits_posted=2_500)
    assert ledger.balance(ESCROW).net_posted == 2_500
    assert ledger.balance(BANK).net_posted == -10_000
    assert _total(ledger) == (0, 0)


def test_a_limited_account_never_goes_below_zero_pending_debits_counted():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)
    held = ledger.execute([_t(2, BUYER, ESCROW, 600, TransferFlags.PENDING)])

    over = ledger.execute([_t(3, BUYER, SELLER, 401)])
    exact = ledger.execute([_t(4, BUYER, SELLER, 400)])

    assert held[0].result is Result.OK
    assert (over[0].result, over[0].fields) == (Result.EXCEEDS_CREDITS, ("amount",))
    assert exact[0].result is Result.OK
    assert ledger.balance(BUYER).spendable == 0
    assert ledger.balance(SELLER).net_posted == 400


def test_pending_credits_cannot_be_spent_before_they_are_posted():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 500)
    ledger.execute([_t(2, BUYER, ESCROW, 500, TransferFlags.PENDING)])

    spend = ledger.execute([_t(3, ESCROW, SELLER, 1)])

    assert spend[0].result is Result.EXCEEDS_CREDITS
    assert ledger.balance(ESCROW) == Balance(credits_pending=500)


@pytest.mark.parametrize(("post_amount", "posted"), [(0, 700), (700, 700), (250, 250)])
def test_posting_a_hold_in_full_or_in_part_releases_the_rest(post_amount, posted):
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)
    ledger.execute([_t(2, BUYER, ESCROW, 700, TransferFlags.PENDING)])

    [outcome] = ledger.execute([_t(3, 0, 0, post_amount, TransferFlags.POST_PENDING, 2, "")])

    assert outcome.result is Result.OK
    assert outcome.recorded == _t(3, BUYER, ESCROW, posted, TransferFlags.POST_PENDING, 2)
    assert ledger.balance(BUYER) == Balance(credits_posted=1_000, debits_posted=posted)
    assert ledger.balance(ESCROW) == Balance(credits_posted=posted)
    assert ledger.pending_state(TransferId(2)) is PendingState.POSTED
    assert _total(ledger) == (0, 0)


def test_a_hold_is_posted_or_voided_exactly_once():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)
    ledger.execute([_t(2, BUYER, ESCROW, 700, TransferFlags.PENDING)])
    ledger.execute([_t(3, BUYER, ESCROW, 100, TransferFlags.PENDING)])

    void = ledger.execute([_t(4, 0, 0, 0, TransferFlags.VOID_PENDING, 2, "")])
    post_after_void = ledger.execute([_t(5, 0, 0, 0, TransferFlags.POST_PENDING, 2, "")])
    post = ledger.execute([_t(6, 0, 0, 0, TransferFlags.POST_PENDING, 3, "")])
    void_after_post = ledger.execute([_t(7, 0, 0, 0, TransferFlags.VOID_PENDING, 3, "")])
    too_much = ledger.execute([_t(8, BUYER, ESCROW, 50, TransferFlags.PENDING)])
    over_post = ledger.execute([_t(9, 0, 0, 51, TransferFlags.POST_PENDING, 8, "")])
    part_void = ledger.execute([_t(10, 0, 0, 49, TransferFlags.VOID_PENDING, 8, "")])

    assert void[0].result is Result.OK
    assert post_after_void[0].result is Result.ALREADY_VOIDED
    assert post[0].result is Result.OK
    assert void_after_post[0].result is Result.ALREADY_POSTED
    assert too_much[0].result is Result.OK
    assert over_post[0].result is Result.EXCEEDS_PENDING
    assert part_void[0].result is Result.INVALID_AMOUNT
    assert ledger.balance(BUYER) == Balance(
        credits_posted=1_000, debits_posted=100, debits_pending=50
    )


def test_resolving_what_is_not_a_hold_is_refused():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)

    unknown = ledger.execute([_t(2, 0, 0, 0, TransferFlags.POST_PENDING, 99, "")])
    plain = ledger.execute([_t(3, 0, 0, 0, TransferFlags.VOID_PENDING, 1, "")])
    ledger.execute([_t(4, BUYER, ESCROW, 10, TransferFlags.PENDING)])
    elsewhere = ledger.execute([_t(5, BUYER, SELLER, 0, TransferFlags.POST_PENDING, 4)])

    assert unknown[0].result is Result.UNKNOWN_PENDING
    assert plain[0].result is Result.NOT_PENDING
    assert (elsewhere[0].result, elsewhere[0].fields) == (
        Result.PENDING_MISMATCH,
        ("credit_account",),
    )


def test_a_linked_chain_applies_whole_or_not_at_all():
    ledger = _ledger()
    _deposit(ledger, 1, ESCROW, 1_000)
    release = [
        _t(2, ESCROW, SELLER, 985, TransferFlags.LINKED),
        _t(3, ESCROW, FEES, 16),  # one too many: the escrow holds 1,000
    ]

    failed = ledger.execute(release)
    fixed = ledger.execute([release[0], _t(3, ESCROW, FEES, 15)])

    assert [o.result for o in failed] == [Result.LINKED_EVENT_FAILED, Result.EXCEEDS_CREDITS]
    assert [o.result for o in fixed] == [Result.OK, Result.OK]
    assert ledger.balance(ESCROW).net_posted == 0
    assert (ledger.balance(SELLER).net_posted, ledger.balance(FEES).net_posted) == (985, 15)
    assert [t.id for t in ledger.transfers] == [1, 2, 3]


def test_a_batch_that_ends_inside_a_chain_applies_none_of_it():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)

    outcomes = ledger.execute(
        [
            _t(2, BUYER, SELLER, 10, TransferFlags.LINKED),
            _t(3, BUYER, SELLER, 10, TransferFlags.LINKED),
        ]
    )

    assert [o.result for o in outcomes] == [Result.LINKED_EVENT_FAILED, Result.LINKED_CHAIN_OPEN]
    assert ledger.balance(SELLER) == Balance()


def test_one_effect_per_id_and_a_changed_retry_names_what_differs():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)
    first = ledger.execute([_t(2, BUYER, SELLER, 300)])

    again = ledger.execute([_t(2, BUYER, SELLER, 300)])
    changed = ledger.execute([_t(2, BUYER, ESCROW, 301)])

    assert (again[0].result, again[0].replayed) == (Result.OK, True)
    assert again[0].recorded == first[0].recorded
    assert (changed[0].result, changed[0].fields) == (
        Result.ID_CONFLICT,
        ("credit_account", "amount"),
    )
    assert ledger.balance(SELLER).net_posted == 300
    assert len(ledger.transfers) == 2


@pytest.mark.parametrize(
    ("transfer", "result"),
    [
        (_t(9, BUYER, SELLER, 0), Result.INVALID_AMOUNT),
        (_t(9, BUYER, SELLER, -5), Result.INVALID_AMOUNT),
        (_t(9, BUYER, SELLER, 1 << 63), Result.INVALID_AMOUNT),
        (_t(9, BUYER, BUYER, 5), Result.SAME_ACCOUNT),
        (_t(9, AccountId(77), SELLER, 5), Result.UNKNOWN_DEBIT_ACCOUNT),
        (_t(9, BUYER, AccountId(77), 5), Result.UNKNOWN_CREDIT_ACCOUNT),
        (_t(9, BUYER, OTHER_CCY, 5), Result.CURRENCY_MISMATCH),
        (_t(9, BUYER, SELLER, 5, currency="USD"), Result.CURRENCY_MISMATCH),
        (_t(9, BUYER, SELLER, 5, TransferFlags.PENDING | TransferFlags.POST_PENDING, 1),
         Result.INVALID_FLAGS),
        (_t(9, BUYER, SELLER, 5, TransferFlags.NONE, 1), Result.INVALID_FLAGS),
        (_t(9, 0, 0, 0, TransferFlags.POST_PENDING), Result.INVALID_FLAGS),
    ],
)  # fmt: skip
def test_malformed_transfers_are_refused_and_change_nothing(transfer, result):
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, 1_000)

    [outcome] = ledger.execute([transfer])

    assert outcome.result is result
    assert ledger.balance(SELLER) == Balance()
    assert ledger.balance(BUYER) == Balance(credits_posted=1_000)
    assert len(ledger.transfers) == 1


def test_every_transfer_says_what_caused_it():
    ledger = _ledger()
    nameless = Transfer(
        id=TransferId(1), debit_account=BANK, credit_account=BUYER, amount=5, currency="EUR",
        cause=Cause(kind="bank_entry", reference=""),
    )  # fmt: skip

    [outcome] = ledger.execute([nameless])

    assert (outcome.result, outcome.fields) == (Result.MISSING_CAUSE, ("cause",))


def test_balances_stay_within_what_storage_holds():
    ledger = _ledger()
    _deposit(ledger, 1, BUYER, (1 << 63) - 1)

    [outcome] = ledger.execute([_t(2, BANK, BUYER, 1)])

    assert outcome.result is Result.OVERFLOW
    assert ledger.balance(BUYER).credits_posted == (1 << 63) - 1


def test_an_account_opened_again_with_other_content_is_a_conflict():
    ledger = _ledger()

    same = ledger.open_accounts(
        [Account(id=BUYER, currency="EUR", kind=AccountKind.AVAILABLE, limited=True)]
    )
    other = ledger.open_accounts(
        [Account(id=BUYER, currency="USD", kind=AccountKind.AVAILABLE, limited=False)]
    )

    assert (same[0].result, same[0].replayed) == (Result.OK, True)
    assert (other[0].result, other[0].fields) == (Result.ID_CONFLICT, ("currency", "limited"))
