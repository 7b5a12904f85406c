"""The workers' AWS clients, from botocore alone and one session, built under a lock.

Why botocore and not boto3: the workers need clients, never resources, and boto3 adds its own
import (and s3transfer's) to every cold start of the Lambda executor for nothing. Why a lock: a
botocore session is not thread-safe while it builds clients (its credential and endpoint loading
races: boto/boto3#1592; "client creation shouldn't be done in parallel using the same
session", botocore#2985), and on the thread pool (the ECS worker's default) the first tasks build
the process's cached clients from several threads at once. A built client is thread-safe.
Region, credentials and ``AWS_ENDPOINT_URL[_SERVICE]`` come from the environment exactly as
``boto3.client`` would read them (botocore does that reading); ``region``/``endpoint_url`` given
here win, as boto3's arguments do. Every client's answers set the process's clock to AWS's time
(``workers/runtime/clock.py``: the reply search must not trust a machine's clock).
"""

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.session import Session

_lock = threading.Lock()
_sessions: list["Session"] = []


def client(
    service: str, *, region: str | None = None, endpoint_url: str | None = None, config: "Config | None" = None
) -> Any:
    """A botocore client for ``service``, from the process's one session.

    Raises:
        botocore.exceptions.NoRegionError: No region is given or configured.
    """
    with _lock:
        if not _sessions:
            from botocore.session import get_session

            _sessions.append(get_session())
        built = _sessions[0].create_client(service, region_name=region, endpoint_url=endpoint_url, config=config)
    _learn_aws_time(built)
    return built


def _learn_aws_time(built: Any) -> None:
    """Every answer of ``built`` tells the process's clock what time AWS has (workers/runtime/clock.py)."""
    from workers.runtime.clock import aws_time

    clock = aws_time()

    def before(context: dict[str, Any], **_: Any) -> None:
        context["charla_sent_at"] = clock.local()

    def after(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        date = http_response.headers.get("Date") if http_response is not None else None
        if date and "charla_sent_at" in context:
            clock.observe(context["charla_sent_at"], clock.local(), date)

    built.meta.events.register("before-call", before)
    built.meta.events.register("after-call", after)
