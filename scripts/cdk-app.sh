#!/bin/sh
# The CDK app's entry point (cdk.json "app"). Runs infra.app with the Python that has the project's
# packages: an active virtualenv's, else the checkout's .venv (what `make install` creates), else
# the python3 on the PATH (a Poetry/conda/system install the user set up themselves).
set -eu
if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
  python="$VIRTUAL_ENV/bin/python"
elif [ -x .venv/bin/python ]; then
  python=.venv/bin/python
else
  python=python3
fi
exec "$python" -m infra.app "$@"
