"""`exchange bank-sim`: the simulator as a process, stopped gracefully by SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys

from aiohttp import web

from settlement.bank.simulator.app import SimConfig, create_app


def new_instance() -> str:
    """A tag that keeps this run's bank references and event ids apart from other runs'."""
    return secrets.token_hex(3).upper()


async def serve(config: SimConfig, host: str, port: int) -> None:
    """Listen on host:port until SIGTERM or SIGINT; print one line with the URL once listening."""
    runner = web.AppRunner(create_app(config), shutdown_timeout=1.0, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        print(f"bank-sim listening on http://{host}:{bound}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
    print("bank-sim stopped", file=sys.stderr, flush=True)
