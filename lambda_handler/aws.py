"""The ingress's AWS clients come from botocore alone: boto3 would add its own import (and, through
it, s3transfer) to every cold start for nothing, since the ingress needs two clients and no
resources. One botocore session builds both, so the credential chain and the endpoint data are
loaded once. Region, credentials and ``AWS_ENDPOINT_URL[_SERVICE]`` come from the environment
exactly as ``boto3.client`` would read them (botocore does that reading).
"""

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.session import Session


@cache
def _session() -> "Session":
    from botocore.session import get_session

    return get_session()


def client(service: str, config: "Config") -> Any:
    """A botocore client for ``service`` with ``config``, from the ingress's one session.

    Raises:
        botocore.exceptions.NoRegionError: No region is configured (the caller retries later).
    """
    return _session().create_client(service, config=config)
