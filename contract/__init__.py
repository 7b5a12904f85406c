"""The task contract shared by the ingress (lambda_handler) and the workers.

Everything both sides must agree on lives here and nowhere else: task names, queue names and
their time limits, payload shapes, the Celery wire format and the environment variable names.
Standard library only, so importing it costs the Lambda cold start next to nothing.
"""
