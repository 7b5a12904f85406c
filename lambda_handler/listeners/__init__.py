"""One module per Slack surface; each exposes ``register(app)``.

``register_all`` is the one list of them: the HTTP door (``lambda_handler.main``) and the Socket
Mode door (``lambda_handler.socket_mode``) both build their app from it, so a surface added here
is served by both transports.
"""

from slack_bolt import App

from lambda_handler.listeners import commands, events, home, interactions, members


def register_all(app: App) -> None:
    """Attach every surface's listeners to ``app``."""
    events.register(app)
    commands.register(app)
    interactions.register(app)
    members.register(app)
    home.register(app)
