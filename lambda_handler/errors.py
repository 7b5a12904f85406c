"""Errors raised at the edge, and the one place that maps them to HTTP status codes."""


class IngressError(Exception):
    """Base class: a request the ingress will not (or cannot now) accept."""

    status = 500
    public_message = "internal error"


class RequestRejected(IngressError):
    """The request is not a well-formed Slack request (bad headers, body or content type)."""

    status = 400
    public_message = "malformed request"


class PayloadTooLarge(RequestRejected):
    status = 413
    public_message = "request body too large"


class UnsupportedContentType(RequestRejected):
    status = 415
    public_message = "unsupported content type"


class NotAuthenticated(IngressError):
    """Signature missing, wrong or too old: not from Slack, or a replay."""

    status = 401
    public_message = "invalid signature"


class QueueUnavailable(IngressError):
    """SQS could not take the task: Slack must retry, so answer non-2xx."""

    status = 503
    public_message = "temporarily unavailable, please retry"


class SecretUnavailable(IngressError):
    """Secrets Manager did not answer, so no signature can be checked: Slack must retry."""

    status = 503
    public_message = "temporarily unavailable, please retry"


class MissingSettingError(RuntimeError):
    """Required configuration is absent; the message names every missing variable."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"missing required environment variable(s): {', '.join(names)}")
        self.names = names


def http_status(error: Exception) -> tuple[int, str]:
    """Status code and public message for any error reaching the edge (never internal details)."""
    if isinstance(error, IngressError):
        return error.status, error.public_message
    return 500, IngressError.public_message
