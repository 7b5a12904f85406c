"""Plain functions that do the bot's work; testable without Celery, dependencies passed in."""
