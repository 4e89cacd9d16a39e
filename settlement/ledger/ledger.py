"""The ledger: accounts, balances and the append-only record of transfers, in memory.

`execute` takes a batch of transfers and returns one outcome each. A chain of LINKED
transfers applies whole or not at all; a transfer id has one effect, whatever retries come.
The sum of every account's balance (credits less debits, posted and pending alike) is zero,
since each transfer adds the same amount to one account's debits and another's credits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from settlement.ledger.model import (
    MAX_AMOUNT,
    Account,
    AccountId,
    Balance,
    Outcome,
    PendingState,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

_KINDS = TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING
_RESOLVING = TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING


class _Failed(Exception):
    def __init__(self, result: Result, fields: tuple[str, ...] = ()) -> None:
        super().__init__(result)
        self.result = result
        self.fields = fields


def differing_fields(first: msgspec.Struct, second: msgspec.Struct) -> tuple[str, ...]:
    """The names of the fields whose values differ between two structs of one type."""
    return tuple(
        name for name in first.__struct_fields__ if getattr(first, name) != getattr(second, name)
    )


class _Scratch:
    """The changes of one chain, applied to the ledger only if the whole chain succeeds."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.balances: dict[AccountId, Balance] = {}
        self.states: dict[TransferId, PendingState] = {}
        self.submitted: dict[TransferId, Transfer] = {}
        self.recorded: dict[TransferId, Transfer] = {}

    def balance(self, account: AccountId) -> Balance:
        return self.balances.get(account) or self.ledger.balance(account)

    def state(self, transfer: TransferId) -> PendingState | None:
        return self.states.get(transfer) or self.ledger.pending_state(transfer)

    def find(self, transfer: TransferId) -> tuple[Transfer, Transfer] | None:
        """(as submitted, as recorded) of a transfer made earlier or in this chain."""
        if transfer in self.recorded:
            return self.submitted[transfer], self.recorded[transfer]
        return self.ledger.find(transfer)

    def commit(self) -> None:
        self.ledger.absorb(self)


class Ledger:
    """Accounts and transfers; the rules that move money, and nothing else."""

    def __init__(self) -> None:
        self._accounts: dict[AccountId, Account] = {}
        self._balances: dict[AccountId, Balance] = {}
        self._submitted: dict[TransferId, Transfer] = {}
        self._recorded: dict[TransferId, Transfer] = {}
        self._states: dict[TransferId, PendingState] = {}
        self.transfers: list[Transfer] = []  # every recorded transfer, in order

    # -- queries -------------------------------------------------------------------------

    def account(self, account: AccountId) -> Account | None:
        """The account with this id, if it was opened."""
        return self._accounts.get(account)

    def accounts(self) -> Iterable[Account]:
        """Every open account."""
        return self._accounts.values()

    def balance(self, account: AccountId) -> Balance:
        """The account's balance (zero for an account with no transfers)."""
        return self._balances.get(account) or Balance()

    def submitted(self, transfer: TransferId) -> Transfer:
        """A recorded transfer as it was submitted (what a retry must equal)."""
        return self._submitted[transfer]

    def pending_state(self, transfer: TransferId) -> PendingState | None:
        """Where a pending transfer stands; None for any other transfer."""
        return self._states.get(transfer)

    def find(self, transfer: TransferId) -> tuple[Transfer, Transfer] | None:
        """(as submitted, as recorded) of a recorded transfer."""
        if transfer not in self._recorded:
            return None
        return self._submitted[transfer], self._recorded[transfer]

    def load(
        self,
        accounts: Iterable[tuple[Account, Balance]],
        transfers: Iterable[tuple[Transfer, Transfer, PendingState | None]],
    ) -> None:
        """Take up state kept elsewhere (storage): accounts with their balances, and transfers
        (as submitted, as recorded, and where a pending one stands). Loaded transfers are not
        in `transfers`, which lists what this ledger recorded itself."""
        for account, balance in accounts:
            self._accounts[account.id] = account
            self._balances[account.id] = balance
        for submitted, recorded, state in transfers:
            self._submitted[recorded.id] = submitted
            self._recorded[recorded.id] = recorded
            if state is not None:
                self._states[recorded.id] = state

    # -- accounts ------------------------------------------------------------------------

    def open_accounts(self, accounts: Sequence[Account]) -> list[Outcome]:
        """Open accounts; an id opened before with the same content is a replay."""
        outcomes = []
        for account in accounts:
            known = self._accounts.get(account.id)
            if known is None:
                self._accounts[account.id] = account
                outcomes.append(Outcome(id=account.id, result=Result.OK, recorded=account))
            elif known == account:
                outcomes.append(
                    Outcome(id=account.id, result=Result.OK, recorded=known, replayed=True)
                )
            else:
                fields = differing_fields(known, account)
                outcomes.append(Outcome(id=account.id, result=Result.ID_CONFLICT, fields=fields))
        return outcomes

    # -- transfers -----------------------------------------------------------------------

    def execute(self, transfers: Sequence[Transfer]) -> list[Outcome]:
        """Apply transfers in order, each LINKED chain whole or not at all."""
        outcomes: list[Outcome] = []
        start = 0
        while start < len(transfers):
            end = start
            while transfers[end].flags & TransferFlags.LINKED and end + 1 < len(transfers):
                end += 1
            outcomes += self._chain(transfers[start : end + 1])
            start = end + 1
        return outcomes

    def _chain(self, chain: Sequence[Transfer]) -> list[Outcome]:
        scratch = _Scratch(self)
        done: list[Outcome] = []
        for index, transfer in enumerate(chain):
            try:
                if index == len(chain) - 1 and transfer.flags & TransferFlags.LINKED:
                    raise _Failed(Result.LINKED_CHAIN_OPEN)
                done.append(_apply(scratch, transfer))
            except _Failed as failed:
                return self._chain_failed(chain, index, failed)
        scratch.commit()
        return done

    @staticmethod
    def _chain_failed(chain: Sequence[Transfer], index: int, failed: _Failed) -> list[Outcome]:
        outcomes = []
        for other, transfer in enumerate(chain):
            if other == index:
                outcomes.append(Outcome(id=transfer.id, result=failed.result, fields=failed.fields))
            else:
                outcomes.append(Outcome(id=transfer.id, result=Result.LINKED_EVENT_FAILED))
        return outcomes

    def absorb(self, scratch: _Scratch) -> None:
        """Make a successful chain's changes the ledger's."""
        self._balances.update(scratch.balances)
        self._states.update(scratch.states)
        self._submitted.update(scratch.submitted)
        self._recorded.update(scratch.recorded)
        self.transfers += scratch.recorded.values()


def _apply(scratch: _Scratch, transfer: Transfer) -> Outcome:
    earlier = scratch.find(transfer.id)
    if earlier is not None:
        submitted, recorded = earlier
        if submitted != transfer:
            raise _Failed(Result.ID_CONFLICT, differing_fields(submitted, transfer))
        return Outcome(id=transfer.id, result=Result.OK, recorded=recorded, replayed=True)
    _check_shape(transfer)
    if transfer.flags & _RESOLVING:
        recorded = _resolve(scratch, transfer)
    else:
        recorded = _move(scratch, transfer)
    scratch.submitted[transfer.id] = transfer
    scratch.recorded[transfer.id] = recorded
    return Outcome(id=transfer.id, result=Result.OK, recorded=recorded)


def _check_shape(transfer: Transfer) -> None:
    kinds = transfer.flags & _KINDS
    if kinds not in (TransferFlags.NONE, TransferFlags.PENDING) and kinds not in (
        TransferFlags.POST_PENDING,
        TransferFlags.VOID_PENDING,
    ):
        raise _Failed(Result.INVALID_FLAGS, ("flags",))
    if (transfer.pending_id is not None) != bool(kinds & _RESOLVING):
        raise _Failed(Result.INVALID_FLAGS, ("pending_id",))
    if not transfer.cause.kind or not transfer.cause.reference:
        raise _Failed(Result.MISSING_CAUSE, ("cause",))
    post = bool(kinds & TransferFlags.POST_PENDING)
    void = bool(kinds & TransferFlags.VOID_PENDING)
    if transfer.amount < 0 or transfer.amount > MAX_AMOUNT:
        raise _Failed(Result.INVALID_AMOUNT, ("amount",))
    if transfer.amount == 0 and not (post or void):
        raise _Failed(Result.INVALID_AMOUNT, ("amount",))


def _account(scratch: _Scratch, account: AccountId, missing: Result) -> Account:
    found = scratch.ledger.account(account)
    if found is None:
        raise _Failed(missing, (missing.value.removeprefix("unknown_"),))
    return found


def _move(scratch: _Scratch, transfer: Transfer) -> Transfer:
    """A plain or pending transfer: debit one account, credit the other."""
    debit = _account(scratch, transfer.debit_account, Result.UNKNOWN_DEBIT_ACCOUNT)
    credit = _account(scratch, transfer.credit_account, Result.UNKNOWN_CREDIT_ACCOUNT)
    if debit.id == credit.id:
        raise _Failed(Result.SAME_ACCOUNT, ("debit_account", "credit_account"))
    if not debit.currency == credit.currency == transfer.currency:
        raise _Failed(Result.CURRENCY_MISMATCH, ("currency",))
    amount = transfer.amount
    pending = bool(transfer.flags & TransferFlags.PENDING)
    field = "pending" if pending else "posted"
    _book(scratch, debit, f"debits_{field}", amount)
    _book(scratch, credit, f"credits_{field}", amount)
    if pending:
        scratch.states[transfer.id] = PendingState.PENDING
    return transfer


def _resolve(scratch: _Scratch, transfer: Transfer) -> Transfer:
    """Post (in full or in part) or void a pending transfer, exactly once."""
    assert transfer.pending_id is not None
    found = scratch.find(transfer.pending_id)
    if found is None:
        raise _Failed(Result.UNKNOWN_PENDING, ("pending_id",))
    pending = found[1]
    state = scratch.state(pending.id)
    if state is None:
        raise _Failed(Result.NOT_PENDING, ("pending_id",))
    if state is PendingState.POSTED:
        raise _Failed(Result.ALREADY_POSTED, ("pending_id",))
    if state is PendingState.VOIDED:
        raise _Failed(Result.ALREADY_VOIDED, ("pending_id",))
    _same_as_pending(transfer, pending)
    post = bool(transfer.flags & TransferFlags.POST_PENDING)
    if not post and transfer.amount not in (0, pending.amount):
        raise _Failed(Result.INVALID_AMOUNT, ("amount",))  # a void releases the whole hold
    amount = (transfer.amount or pending.amount) if post else pending.amount
    if amount > pending.amount:
        raise _Failed(Result.EXCEEDS_PENDING, ("amount",))
    debit = _account(scratch, pending.debit_account, Result.UNKNOWN_DEBIT_ACCOUNT)
    credit = _account(scratch, pending.credit_account, Result.UNKNOWN_CREDIT_ACCOUNT)
    _book(scratch, debit, "debits_pending", -pending.amount)
    _book(scratch, credit, "credits_pending", -pending.amount)
    if post:
        _book(scratch, debit, "debits_posted", amount)
        _book(scratch, credit, "credits_posted", amount)
    scratch.states[pending.id] = PendingState.POSTED if post else PendingState.VOIDED
    return msgspec.structs.replace(
        transfer,
        debit_account=pending.debit_account,
        credit_account=pending.credit_account,
        currency=pending.currency,
        amount=amount if post else pending.amount,
    )


def _same_as_pending(transfer: Transfer, pending: Transfer) -> None:
    for name in ("debit_account", "credit_account", "currency"):
        given = getattr(transfer, name)
        if given and given != getattr(pending, name):
            raise _Failed(Result.PENDING_MISMATCH, (name,))


def _book(scratch: _Scratch, account: Account, field: str, amount: int) -> None:
    """Add `amount` to one balance field; refuse overflow and a limited account's overdraft."""
    balance = scratch.balance(account.id)
    value = getattr(balance, field) + amount
    if value > MAX_AMOUNT:
        raise _Failed(Result.OVERFLOW, ("amount",))
    balance = msgspec.structs.replace(balance, **{field: value})
    if account.limited and balance.spendable < 0:
        raise _Failed(Result.EXCEEDS_CREDITS, ("amount",))
    scratch.balances[account.id] = balance
