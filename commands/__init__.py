"""The bot's commands, one module each: drop ``weather.py`` here and it is a command.

A module that defines ``COMMAND`` (a ``contract.command_spec.Command``) is registered; the rest
(none today) are ignored. ``COMMANDS`` lists them in help order. The contract (words, routes,
payloads, schemas), help and both executors read this tuple; docs/EXTENDING.md shows how.
"""

import importlib
import pkgutil
from collections.abc import Iterable

from contract.command_spec import BASE_LANGUAGE, Command


class CommandDeclarationError(ValueError):
    """A command module declares something the registry cannot take (named in the message)."""


def _check(module: str, command: Command) -> None:
    if BASE_LANGUAGE not in command.words or not command.words[BASE_LANGUAGE]:
        raise CommandDeclarationError(f"{module}: COMMAND.words needs at least one {BASE_LANGUAGE!r} word")
    if BASE_LANGUAGE not in command.help:
        raise CommandDeclarationError(f"{module}: COMMAND.help needs a {BASE_LANGUAGE!r} HelpLine")


def discover(path: Iterable[str] = __path__, package: str = __name__) -> tuple[Command, ...]:
    """Import every module of ``package`` (this one) and return the commands they define, in help order.

    Raises:
        CommandDeclarationError: A module's ``COMMAND`` lacks its base-language words or help,
            or two modules name the same task.
    """
    found: dict[str, Command] = {}
    for module in pkgutil.iter_modules(path):
        if module.name.startswith("_"):
            continue
        name = f"{package}.{module.name}"
        command = getattr(importlib.import_module(name), "COMMAND", None)
        if not isinstance(command, Command):
            continue
        _check(name, command)
        if command.task in found:
            raise CommandDeclarationError(f"{name}: task {command.task!r} is declared twice")
        found[command.task] = command
    return tuple(sorted(found.values(), key=lambda command: (command.order, command.name)))


COMMANDS: tuple[Command, ...] = discover()
