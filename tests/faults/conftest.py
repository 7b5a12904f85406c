"""The fault-injection suite (``make faults``): each scenario reports one line of figures."""

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

_LINES: list[str] = []


@dataclass
class ScenarioReport:
    """Figures a scenario states: what was sent, what happened, what was lost or doubled."""

    name: str
    figures: dict[str, object] = field(default_factory=dict)

    def __setitem__(self, key: str, value: object) -> None:
        self.figures[key] = value

    def line(self) -> str:
        return f"{self.name}: " + ", ".join(f"{k}={v}" for k, v in self.figures.items())


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[ScenarioReport]:
    """Collects the scenario's figures; printed at the end of the run (and on failure)."""
    scenario = ScenarioReport(request.node.name.removeprefix("test_"))
    yield scenario
    _LINES.append(scenario.line())
    print("\n" + scenario.line())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LINES:
        terminalreporter.section("fault-injection scenarios")
        for line in _LINES:
            terminalreporter.write_line(line)
