"""The one place deploy settings are kept: ``cdk.json``'s context, read by every ``cdk`` command.

A value given with ``-c key=value`` applies to that one command only; the next ``npx cdk deploy``
without it goes back to ``cdk.json``'s value. For most keys that is a surprise; for ``profile``
it quietly switches the executors and the bill, and for ``alarm_email`` it drops the only person
the alarms reach. ``not_kept`` names every setting whose value comes from the command line, so
the synth (which ``cdk deploy`` runs first) says so before anything is deployed.
"""

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"

# What a command-line-only value of these keys does to the next deploy that lacks it.
CONSEQUENCES = {
    "profile": "switches the stack back to {saved} (executors, Spot, schedule and the bill change)",
    "alarm_email": "removes the alarm subscription (alarms then reach nobody)",
    "env_name": "deploys a different stack (charla-{saved})",
}


def saved_settings(path: Path = CDK_JSON) -> dict[str, Any]:
    """``cdk.json``'s context (``{}`` when there is no such file, e.g. an app built in a test)."""
    if not path.exists():
        return {}
    context: dict[str, Any] = json.loads(path.read_text()).get("context", {})
    return context


def not_kept(context: Callable[[str], Any], keys: Iterable[str], saved: dict[str, Any]) -> list[str]:
    """One warning per setting whose value differs from ``cdk.json``'s (so it came from ``-c``)."""
    warnings = []
    for key in keys:
        given, kept = context(key), saved.get(key)
        if given is None or _same(given, kept):
            continue
        saved_as = "the default deploy" if key == "profile" and kept is None else _shown(kept)
        consequence = CONSEQUENCES.get(key, "goes back to {saved}").format(saved=saved_as)
        warnings.append(
            f"{key}={_shown(given)} is given on the command line only (cdk.json: {_shown(kept)}): the next "
            f"`npx cdk deploy` without it {consequence}. Write it in cdk.json's context to keep it."
        )
    return warnings


def _same(given: Any, kept: Any) -> bool:
    """A ``-c`` string equals the JSON value it spells (``-c fargate_spot=true`` vs ``true``)."""
    if given == kept:
        return True
    if isinstance(given, str) and not isinstance(kept, str):
        try:
            return bool(json.loads(given) == kept)
        except ValueError:
            return False
    return False


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value)
