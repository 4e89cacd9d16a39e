"""The `exchange` command line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import click
import msgspec
import structlog
from aiohttp import web

from exchange.app import create_app
from exchange.appkeys import BOOT
from exchange.audit import audit
from exchange.config import Settings, SettingsError, load_settings
from exchange.contracts.verify import Finding, verify_chains
from exchange.db.embedded import EmbeddedPostgres
from exchange.db.migrate import migrate
from exchange.logs import configure_logging
from exchange.messages.participants import Contact, CreateParticipant, Role
from exchange.messages.payments import ReconciliationReport
from exchange.participants import create_participant, issue_key
from exchange.payments.notices import Notices
from exchange.payments.reconcile import currencies_in_use, reconcile
from settlement.bank.http import HttpBank
from settlement.bank.port import BankError

log = structlog.get_logger("exchange.cli")


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(None, **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.asynccontextmanager
async def _connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the configured database, starting the embedded one if needed."""
    embedded = None if settings.database_url else EmbeddedPostgres(settings.data_dir)
    dsn = settings.database_url or await asyncio.to_thread(embedded.start)  # type: ignore[union-attr]
    try:
        conn = await asyncpg.connect(dsn)
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        if embedded is not None:  # never a server that a center (or anyone) still uses
            await asyncio.to_thread(embedded.stop, only_if_started_here=True)


@click.group()
def main() -> None:
    """The B2B trading center."""


async def _serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await runner.setup()
    failed = False
    try:
        site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
        await site.start()
        log.info("listening", address=f"http://{settings.host}:{site._port or settings.port}")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({stopping, app[BOOT]}, return_when=asyncio.FIRST_COMPLETED)
        if app[BOOT].done() and not app[BOOT].cancelled() and app[BOOT].exception():
            log.error("start-up failed", error=repr(app[BOOT].exception()))
            failed = True
        else:
            await stopping
        log.info("stopping")
    finally:
        await runner.cleanup()
        log.info("stopped")
    if failed:
        raise SystemExit(1)


@main.command()
@click.option("--host", default=None, help="Address to listen on [EXCHANGE_HOST, 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port to listen on [EXCHANGE_PORT, 8080]")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data folder; the embedded PostgreSQL lives in <data-dir>/pg [EXCHANGE_DATA_DIR]",
)
def serve(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the center (starting its own PostgreSQL unless DATABASE_URL is set)."""
    settings = _settings(host=host, port=port, data_dir=data_dir)
    configure_logging(settings.log_level)
    asyncio.run(_serve(settings))


@main.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations and exit."""
    settings = _settings()
    configure_logging(settings.log_level)

    async def run() -> list[int]:
        async with _connection(settings) as conn:
            return await migrate(conn)

    applied = asyncio.run(run())
    click.echo(f"applied: {', '.join(map(str, applied))}" if applied else "up to date")


@main.group()
def admin() -> None:
    """Administrative tasks run on the server's machine."""


@admin.command("create-operator")
@click.option("--name", required=True, help="Legal name of the operating company or desk")
@click.option("--email", default="operations@center.invalid", help="Contact e-mail")
@click.option("--registration-number", default=None, help="Defaults to OPERATOR-<n>")
def create_operator(name: str, email: str, registration_number: str | None) -> None:
    """Create an operator and print its API key (shown this once only)."""
    settings = _settings()
    configure_logging("WARNING")

    async def run() -> str:
        async with _connection(settings) as conn:
            await migrate(conn)
            async with conn.transaction():
                number = registration_number or "OPERATOR-" + str(
                    await conn.fetchval("SELECT count(*) + 1 FROM participants")
                )
                new = CreateParticipant(
                    legal_name=name,
                    registration_number=number,
                    contact=Contact(name=name, email=email),
                    roles=[Role.OPERATOR],
                )
                participant = await create_participant(conn, new)
                key = await issue_key(conn, participant.id, "created by admin command")
                await audit(conn, None, "participant.create", f"participant:{participant.id}")
            return f"operator {participant.id} created\napi key: {key.key}"

    try:
        click.echo(asyncio.run(run()))
    except Exception as exc:  # the CLI reports, it does not dump a trace
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.group()
def contracts() -> None:
    """Electronic contracts."""


@contracts.command("verify")
def verify_contracts() -> None:
    """Walk every contract chain; report each contract whose terms, hash, link or signature
    do not check out. Exits 1 if any does."""
    settings = _settings()
    configure_logging("WARNING")

    async def run() -> tuple[int, list[Finding]]:
        async with _connection(settings) as conn:
            return await verify_chains(conn)

    checked, findings = asyncio.run(run())
    for finding in findings:
        click.echo(f"FAIL {finding.number}: {finding.problem}")
    verdict = "all verified" if not findings else f"{len(findings)} problem(s)"
    click.echo(f"{checked} contract(s) checked: {verdict}")
    sys.exit(1 if findings else 0)


@main.command("reconcile")
@click.option(
    "--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The UTC day of the bank's statement",
)  # fmt: skip
@click.option("--currency", default=None, help="One currency (default: every one in use)")
def reconcile_command(day: datetime, currency: str | None) -> None:
    """Match the designated bank's statement of the center's account for one day with the
    ledger; apply notifications that never arrived; print each report as JSON. Exits 1 if any
    is not clean."""
    settings = _settings()
    configure_logging("WARNING")
    if settings.bank_url is None:
        raise click.ClickException("set EXCHANGE_BANK_URL (and EXCHANGE_BANK_API_KEY)")
    bank = HttpBank(settings.bank_url, settings.bank_api_key or "")

    async def run() -> list[ReconciliationReport]:
        reports = []
        try:
            async with _connection(settings) as conn:
                await migrate(conn)
                currencies = [currency] if currency else await currencies_in_use(conn)
                for code in currencies:
                    account = settings.bank_account_prefix + code
                    now = datetime.now(UTC)
                    report = await reconcile(conn, bank, account, code, day.date(), now, Notices())
                    reports.append(report)
        finally:
            await bank.close()
        return reports

    try:
        reports = asyncio.run(run())
    except BankError as exc:
        raise click.ClickException(f"the bank's statement could not be fetched: {exc}") from None
    for report in reports:
        click.echo(msgspec.json.encode(report))
    sys.exit(0 if all(report.clean for report in reports) else 1)


@main.command("bank-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option("--port", type=int, default=8090, show_default=True, help="Port to listen on")
@click.option("--api-key", envvar="BANK_SIM_API_KEY", required=True, help="[BANK_SIM_API_KEY]")
@click.option(
    "--secret",
    envvar="BANK_SIM_SECRET",
    default=None,
    help="Notification secret shared with the center's EXCHANGE_BANK_SECRET [BANK_SIM_SECRET]",
)
@click.option("--notify-url", default=None, help="Where to POST notifications (the center's)")
@click.option("--account-prefix", default="CENTER-", show_default=True)
@click.option("--faults", "seed", type=int, default=None, help="Fault mode with this seed")
@click.option("--fault-rates", default=None, help="e.g. lose=0.1,duplicate=0.2,delay_seconds=1")
def bank_sim(
    host: str,
    port: int,
    api_key: str,
    secret: str | None,
    notify_url: str | None,
    account_prefix: str,
    seed: int | None,
    fault_rates: str | None,
) -> None:
    """Run the designated bank's simulator (docs/payments.md)."""
    from settlement.bank.simulator.app import SimConfig
    from settlement.bank.simulator.faults import parse_rates
    from settlement.bank.simulator.run import new_instance, serve

    if notify_url and not notify_url.startswith(("http://", "https://")):
        raise click.ClickException("--notify-url must be an http:// or https:// URL")
    if notify_url and not secret:
        raise click.ClickException("--notify-url needs --secret (or BANK_SIM_SECRET)")
    try:
        rates = parse_rates(fault_rates)
    except ValueError as exc:
        raise click.ClickException(f"--fault-rates: {exc}") from None
    config = SimConfig(
        api_key=api_key,
        instance=new_instance(),
        secret=secret.encode() if secret else None,
        notify_url=notify_url,
        account_prefix=account_prefix,
        fault_seed=seed,
        fault_rates=rates,
    )
    configure_logging("INFO")
    asyncio.run(serve(config, host, port))


@main.command("node-agent")
@click.option("--node", "node", required=True, help="The node's code")
@click.option("--url", required=True, help="The center's base URL, e.g. http://127.0.0.1:8080")
@click.option("--key", envvar="EXCHANGE_NODE_KEY", required=True, help="[EXCHANGE_NODE_KEY]")
@click.option("--simulate", is_flag=True, help="Work every task offered with simulated drivers")
@click.option("--seed", type=int, default=None, help="Seeded delays, shortages and failures")
@click.option("--speed", type=click.FloatRange(min=0.001, max=1e7), default=1.0,
              show_default=True, help="Simulated seconds per real second")  # fmt: skip
@click.option("--handoff", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder where buyers' receivers leave delivery codes (--simulate)")  # fmt: skip
@click.option("--shortage-rate", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--failure-rate", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--heartbeat", type=click.FloatRange(min=0.05), default=10.0, show_default=True,
              help="Seconds between heartbeats")  # fmt: skip
def node_agent(
    node: str,
    url: str,
    key: str,
    simulate: bool,
    seed: int | None,
    speed: float,
    handoff: Path | None,
    shortage_rate: float,
    failure_rate: float,
    heartbeat: float,
) -> None:
    """Work a distribution node's delivery tasks: by hand (commands on stdin) or simulated
    (docs/delivery.md, "Node agent")."""
    from exchange.delivery.agent.plan import Rates
    from exchange.delivery.agent.run import AgentConfig, run_agent

    if not url.startswith(("http://", "https://")):
        raise click.ClickException("--url must be an http:// or https:// URL")
    if simulate and handoff is None:
        raise click.ClickException("--simulate needs --handoff DIR (where delivery codes arrive)")
    try:
        rates = Rates(shortage=shortage_rate, failure=failure_rate)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    config = AgentConfig(
        node=node, url=url, key=key, simulate=simulate, seed=seed, speed=speed,
        handoff=handoff, rates=rates, heartbeat_seconds=heartbeat,
    )  # fmt: skip
    sys.exit(asyncio.run(run_agent(config)))
