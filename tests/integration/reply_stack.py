"""Fixtures the answer-once tests share: the module's stack with no worker (each test runs the
reply machinery itself), a store on its table and a Web API client that never retries a post."""

import pytest
from slack_sdk import WebClient

from scripts.provision import dynamodb
from scripts.stack import DevStack
from workers.store import StateStore


@pytest.fixture(scope="module")
def stack(stack_without_worker: DevStack) -> DevStack:
    return stack_without_worker


@pytest.fixture
def store(stack: DevStack) -> StateStore:
    assert stack.moto_url
    return StateStore(dynamodb(stack.moto_url), stack.env["CHARLA_TABLE_STATE"])


@pytest.fixture
def web(stack: DevStack) -> WebClient:
    return WebClient(token=stack.bot_token, base_url=f"{stack.slack_url}/api/", retry_handlers=[])
