"""slack/manifest.socket.yaml is slack/manifest.yaml with Socket Mode on and no request URL: the
app a person tries with `make chat-slack` is the app they later deploy."""

from pathlib import Path
from typing import Any

import yaml

SLACK = Path(__file__).resolve().parents[2] / "slack"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SLACK / name).read_text())
    return loaded


def as_socket_mode(manifest: dict[str, Any]) -> dict[str, Any]:
    """The HTTP manifest as Socket Mode needs it: every URL removed, Socket Mode on."""
    features = {**manifest["features"]}
    features["slash_commands"] = [
        {key: value for key, value in command.items() if key != "url"} for command in features["slash_commands"]
    ]
    settings = {**manifest["settings"], "socket_mode_enabled": True}
    for section in ("event_subscriptions", "interactivity"):
        settings[section] = {key: value for key, value in settings[section].items() if key != "request_url"}
    return {**manifest, "features": features, "settings": settings}


def test_the_socket_mode_manifest_is_the_http_one_with_socket_mode_on_and_no_urls() -> None:
    http, socket = _load("manifest.yaml"), _load("manifest.socket.yaml")

    assert http["settings"]["socket_mode_enabled"] is False
    assert socket == as_socket_mode(http)


def test_the_socket_mode_manifest_names_no_request_url() -> None:
    text = (SLACK / "manifest.socket.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))

    assert "REQUEST_URL" not in body
    assert "url:" not in body
