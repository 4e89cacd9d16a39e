import io
import json
import logging

from exchange.logs import ACCESS_LOGGER, AccessLog


def test_access_line_is_one_json_object_with_the_fields():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        AccessLog().write(request_id="r-1", method="POST", route="/v1/orders", status=201, ms=1.5)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)

    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "request"
    assert record["logger"] == ACCESS_LOGGER
    assert (record["request_id"], record["status"], record["ms"]) == ("r-1", 201, 1.5)
    assert record["timestamp"].endswith("Z")


def test_nothing_is_built_when_the_level_is_off():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        AccessLog().write(request_id="r-2", status=200)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)

    assert stream.getvalue() == ""
