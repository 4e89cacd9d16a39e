"""Health, readiness, metrics, the OpenAPI document, the error shell."""

from aiohttp import web
from openapi_spec_validator import validate

from exchange.app import create_app
from exchange.config import Settings
from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api


async def test_healthz_and_readyz(anonymous):
    health = await anonymous.get("/healthz")
    ready = await anonymous.get("/readyz")

    assert (health.status, health.body) == (200, {"status": "ok"})
    assert ready.status == 200
    assert ready.body["checks"]["database"] == "ok"


async def test_readyz_is_503_while_draining(database_url, http):
    runner, url = await start_app(settings_for(database_url))
    client = Api(http, url, None)
    try:
        before = await client.get("/readyz")
        await runner.app.shutdown()  # what a SIGTERM starts: no new traffic wanted
        draining = await client.get("/readyz")
    finally:
        await runner.cleanup()

    assert before.status == 200
    assert draining.status == 503
    assert draining.body["checks"]["draining"] == "yes"


async def test_openapi_is_valid_and_covers_every_route(anonymous):
    reply = await anonymous.get("/v1/openapi.json")
    router = create_app(Settings(database_url="postgresql://unused")).router

    validate(reply.body)
    documented = {
        (method.upper(), path)
        for path, operations in reply.body["paths"].items()
        for method in operations
    }
    routed = {
        (r.method, r.resource.canonical) for r in router.routes() if r.method not in ("HEAD", "*")
    }
    assert len(routed) >= 20
    assert documented == routed
    create = reply.body["paths"]["/v1/commodities"]["post"]
    assert set(create["responses"]) >= {"201", "400", "401", "403", "409", "422", "429", "500"}
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CreateCommodity"
    )


async def test_metrics_count_requests_per_route(anonymous):
    await anonymous.get("/healthz")
    await anonymous.get("/v1/me")

    text = (await anonymous.get("/metrics")).body

    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'http_requests_total{method="GET",route="/v1/me",status="401"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"}' in text


async def test_unknown_route_and_method_are_problems(anonymous, operator):
    missing = await anonymous.get("/v1/nothing-here")
    wrong_method = await operator.call("PUT", "/v1/regions")

    assert (missing.status, missing.code) == (404, "NOT_FOUND")
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert (wrong_method.status, wrong_method.code) == (405, "METHOD_NOT_ALLOWED")


async def test_request_id_is_echoed(anonymous):
    async with anonymous.http.get(
        anonymous.base_url + "/healthz", headers={"X-Request-Id": "abc-123"}
    ) as response:
        assert response.headers["X-Request-Id"] == "abc-123"


async def test_rate_limit_is_429_with_retry_after(database_url, http):
    runner, url = await start_app(
        settings_for(database_url, rate_limit_per_second=1, rate_limit_burst=3)
    )
    client = Api(http, url, OPERATOR_KEY)
    try:
        replies = [await client.get("/v1/me") for _ in range(5)]
    finally:
        await runner.cleanup()

    assert [r.status for r in replies[:3]] == [200, 200, 200]
    assert replies[3].status == 429
    assert replies[3].code == "RATE_LIMITED"
    assert int(replies[3].headers["Retry-After"]) >= 1


async def test_listens_at_once_and_answers_503_until_ready(http):
    # a database that does not answer (yet): the center keeps trying and says so
    settings = settings_for("postgresql://nobody@127.0.0.1:9/none")
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    client = Api(http, f"http://127.0.0.1:{runner.addresses[0][1]}", OPERATOR_KEY)
    try:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        api = await client.get("/v1/me")
    finally:
        await runner.cleanup()

    assert health.status == 200
    assert ready.status == 503
    assert ready.body["checks"]["startup"] == "starting"
    assert (api.status, api.code) == (503, "STARTING")
    assert api.headers["Retry-After"] == "1"
