"""Exit statuses and the one-line error every ``charla`` failure becomes (never a traceback).

====  ======================================================================================
0     done; for ``status``: nothing needs a person
1     ``send --wait``: the task ran and failed
2     the command line, payload or configuration is wrong (the message says what to set)
3     ``send --wait``: no result in time although a worker is alive
4     AWS (or the local moto server) could not be reached or refused the call
5     a dead-letter queue holds messages (``status``, ``dlq show``)
6     no live worker while work waits (``status``, ``send --wait``); ``workers``: none alive
7     ``trace``: nothing names this id (no log line, effect record, result or dead letter)
====  ======================================================================================
"""

from collections.abc import Iterator
from contextlib import contextmanager

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_UNREACHABLE = 4
EXIT_DEAD_LETTERS = 5
EXIT_NO_WORKER = 6
EXIT_NOT_FOUND = 7

LOCAL_HINT = "for the local stack run `make chat` (or `make deploy-local`) first: it writes .stack/endpoints.json"


class CliError(Exception):
    """A failure reported as one line on stderr and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore's exceptions into one line that says what to do.

    Raises:
        CliError: For every AWS failure inside the block.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise CliError(
            f"{what}: no AWS credentials (set AWS_PROFILE or run `aws configure`; {LOCAL_HINT})", EXIT_UNREACHABLE
        ) from None
    except NoRegionError:
        raise CliError(f"{what}: no AWS region (set AWS_REGION or pass --region; {LOCAL_HINT})", EXIT_USAGE) from None
    except EndpointConnectionError as error:
        endpoint = error.kwargs.get("endpoint_url", "the endpoint")
        raise CliError(
            f"{what}: cannot reach {endpoint} (is the stack running? {LOCAL_HINT})", EXIT_UNREACHABLE
        ) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "?"), details.get("Message", "")
        raise CliError(f"{what}: {code}: {message}".rstrip(": "), EXIT_UNREACHABLE) from None
    except BotoCoreError as error:
        raise CliError(f"{what}: {error}", EXIT_UNREACHABLE) from None
