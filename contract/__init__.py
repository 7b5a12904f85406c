"""The task contract shared by the ingress (lambda_handler) and the workers.

Everything both sides must agree on lives here and nowhere else: task names, queue names and
their time limits, payload shapes, the Celery wire format and the environment variable names.
The commands' own declarations (words, route, payload) are read from ``commands/``, one module
per command, and joined here (``contract/registry.py``, ``contract/commands.py``).
Standard library only, so importing it costs the Lambda cold start next to nothing.
"""
