"""The ledger against a small oracle: holds, posts (full and partial), voids, linked chains,
retries with the same id and with changed content. After every step the sum of all balances
is zero, no limited account is below zero, and every balance equals the oracle's."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from settlement.ledger import (
    Account,
    AccountId,
    AccountKind,
    Cause,
    Ledger,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

# (id, currency, limited): a bank clearing account per currency, limited accounts besides
ACCOUNTS = [(1, "EUR", False), (2, "EUR", True), (3, "EUR", True), (4, "EUR", True),
            (5, "USD", False), (6, "USD", True)]  # fmt: skip
CURRENCY = {aid: ccy for aid, ccy, _ in ACCOUNTS}
LIMITED = {aid for aid, _, limited in ACCOUNTS if limited}
CAUSE = Cause(kind="test", reference="stateful")
accounts = st.sampled_from([aid for aid, _, _ in ACCOUNTS])
amounts = st.integers(min_value=1, max_value=1_000)


@dataclass
class Oracle:
    """The same money, kept the plainest way: net posted, pending out and in, per account."""

    posted: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CURRENCY, 0))
    out: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CURRENCY, 0))
    into: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CURRENCY, 0))
    holds: dict[int, tuple[int, int, int, str]] = field(default_factory=dict)  # id: d, c, n, state
    seen: dict[int, Transfer] = field(default_factory=dict)

    def one(self, t: Transfer) -> Result:
        if t.id in self.seen:
            return Result.OK if self.seen[t.id] == t else Result.ID_CONFLICT
        if t.flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING):
            result = self._resolve(t)
        else:
            result = self._move(t)
        if result is Result.OK:
            self.seen[t.id] = t
        return result

    def _move(self, t: Transfer) -> Result:
        d, c = t.debit_account, t.credit_account
        if d == c:
            return Result.SAME_ACCOUNT
        if not CURRENCY[d] == CURRENCY[c] == t.currency:
            return Result.CURRENCY_MISMATCH
        if d in LIMITED and self.posted[d] - self.out[d] < t.amount:
            return Result.EXCEEDS_CREDITS
        if t.flags & TransferFlags.PENDING:
            self.out[d] += t.amount
            self.into[c] += t.amount
            self.holds[t.id] = (d, c, t.amount, "pending")
        else:
            self.posted[d] -= t.amount
            self.posted[c] += t.amount
        return Result.OK

    def _resolve(self, t: Transfer) -> Result:
        assert t.pending_id is not None
        if t.pending_id not in self.holds:
            return Result.UNKNOWN_PENDING if t.pending_id not in self.seen else Result.NOT_PENDING
        d, c, held, state = self.holds[t.pending_id]
        if state != "pending":
            return Result.ALREADY_POSTED if state == "posted" else Result.ALREADY_VOIDED
        post = bool(t.flags & TransferFlags.POST_PENDING)
        amount = (t.amount or held) if post else 0
        if amount > held:
            return Result.EXCEEDS_PENDING
        self.out[d] -= held
        self.into[c] -= held
        self.posted[d] -= amount
        self.posted[c] += amount
        self.holds[t.pending_id] = (d, c, held, "posted" if post else "voided")
        return Result.OK

    def chain(self, chain: list[Transfer]) -> list[Result]:
        before = copy.deepcopy(self.__dict__)
        results = [self.one(t) for t in chain]
        if chain[-1].flags & TransferFlags.LINKED:  # the batch ends inside the chain
            results[-1] = Result.LINKED_CHAIN_OPEN
        failed = next((i for i, r in enumerate(results) if r is not Result.OK), None)
        # the ledger stops at the first failure of a chain: later ones are only "linked"
        if failed is None:
            return results
        self.__dict__.update(before)
        return [r if i == failed else Result.LINKED_EVENT_FAILED for i, r in enumerate(results)]


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.ledger.open_accounts(
            [Account(id=AccountId(aid), currency=ccy, limited=limited,
                     kind=AccountKind.AVAILABLE if limited else AccountKind.CLEARING)
             for aid, ccy, limited in ACCOUNTS]
        )  # fmt: skip
        self.oracle = Oracle()
        self.next_id = 1

    def _transfer(
        self, debit: int, credit: int, amount: int, flags: TransferFlags = TransferFlags.NONE,
        pending: int | None = None,
    ) -> Transfer:  # fmt: skip
        self.next_id += 1
        resolving = pending is not None
        return Transfer(
            id=TransferId(self.next_id), debit_account=AccountId(0 if resolving else debit),
            credit_account=AccountId(0 if resolving else credit), amount=amount,
            currency="" if resolving else CURRENCY[debit], cause=CAUSE, flags=flags,
            pending_id=TransferId(pending) if resolving else None,
        )  # fmt: skip

    def _run(self, chain: list[Transfer]) -> None:
        expected = self.oracle.chain(chain)
        got = [outcome.result for outcome in self.ledger.execute(chain)]
        assert got == expected, (chain, got, expected)

    @rule(debit=accounts, credit=accounts, amount=amounts, hold=st.booleans())
    def move(self, debit: int, credit: int, amount: int, hold: bool) -> None:
        flags = TransferFlags.PENDING if hold else TransferFlags.NONE
        self._run([self._transfer(debit, credit, amount, flags)])

    @rule(data=st.data(), post=st.booleans())
    def resolve(self, data: st.DataObject, post: bool) -> None:
        holds = sorted(self.oracle.holds) or [10**9]  # none yet: an unknown one
        pending = data.draw(st.sampled_from(holds))
        held = self.oracle.holds[pending][2] if pending in self.oracle.holds else 0
        # 0 posts it all; up to the hold posts part; a little more is refused
        amount = data.draw(st.integers(min_value=0, max_value=held + 2)) if post else 0
        flags = TransferFlags.POST_PENDING if post else TransferFlags.VOID_PENDING
        self._run([self._transfer(0, 0, amount, flags, pending)])

    @rule(links=st.lists(st.tuples(accounts, accounts, amounts), min_size=2, max_size=4))
    def chain(self, links: list[tuple[int, int, int]]) -> None:
        chain = [
            self._transfer(
                d, c, n, TransferFlags.LINKED if i < len(links) - 1 else TransferFlags.NONE
            )
            for i, (d, c, n) in enumerate(links)
        ]
        self._run(chain)

    @rule(data=st.data(), change=st.booleans())
    def retry(self, data: st.DataObject, change: bool) -> None:
        if not self.oracle.seen:
            return
        earlier = self.oracle.seen[data.draw(st.sampled_from(sorted(self.oracle.seen)))]
        again = earlier
        if change:
            again = Transfer(**{**{f: getattr(earlier, f) for f in earlier.__struct_fields__},
                                "cause": Cause(kind="test", reference="changed")})  # fmt: skip
        count = len(self.ledger.transfers)
        self._run([again])
        assert len(self.ledger.transfers) == count  # a retry never records anything

    @invariant()
    def money_is_neither_made_nor_lost(self) -> None:
        for currency in ("EUR", "USD"):
            balances = [
                self.ledger.balance(AccountId(a)) for a, c in CURRENCY.items() if c == currency
            ]
            assert sum(b.net_posted for b in balances) == 0
            assert sum(b.credits_pending - b.debits_pending for b in balances) == 0

    @invariant()
    def limited_accounts_stay_covered_and_match_the_oracle(self) -> None:
        for aid in CURRENCY:
            balance = self.ledger.balance(AccountId(aid))
            if aid in LIMITED:
                assert balance.spendable >= 0
            assert balance.net_posted == self.oracle.posted[aid]
            assert balance.debits_pending == self.oracle.out[aid]
            assert balance.credits_pending == self.oracle.into[aid]


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestLedger = LedgerMachine.TestCase
