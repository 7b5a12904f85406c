"""What a SnapStart snapshot holds: the import builds the Bolt app and the AWS clients, reads no secret.

With SnapStart, Lambda runs the import once, snapshots memory, and restores that snapshot for
every new environment; whatever the first request builds is paid again after every restore.
A fresh interpreter imports ``lambda_handler.main`` as Lambda would, with Secrets Manager at an
address where nothing listens: the import must build the clients without calling anything.
"""

import json
import subprocess
import sys
from pathlib import Path

from scripts.processes import free_port

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
import lambda_handler.main as main
from lambda_handler import enqueue, settings
try:
    from lambda_handler import signing
except ImportError:
    signing = None
report = {"bolt_app": main.bolt_app.cache_info().currsize, "sqs": enqueue.sqs_client.cache_info().currsize,
          "settings": settings.get_settings.cache_info().currsize}
if signing is not None:
    report["secrets_client"] = signing.secrets_client.cache_info().currsize
    report["secret_read"] = signing.signing_key.cache_info().currsize
    config = signing.secrets_client().meta.config
    report["timeouts"] = [config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]]
print(json.dumps(report))
"""


def test_import_builds_the_bolt_app_and_aws_clients_and_reads_no_secret() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    environ = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",  # Lambda sets it (and AWS_REGION)
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": nowhere,
        "CHARLA_SLACK_SIGNING_SECRET_ARN": (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:charla/dev/slack-signing-secret-AbCdEf"
        ),
        "CHARLA_QUEUE_URL_REPLIES": f"{nowhere}/123456789012/replies",
        "CHARLA_QUEUE_URL_BULK": f"{nowhere}/123456789012/bulk",
    }

    completed = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60, check=True
    )

    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report.get("bolt_app") == 1, report
    assert report.get("sqs") == 1, report
    assert report.get("settings") == 1, report
    assert report.get("secrets_client") == 1, report
    assert report.get("secret_read") == 0, report  # read after restore, on the first request
    connect_s, read_s, attempts = report["timeouts"]
    assert connect_s <= 1 and read_s <= 1 and attempts <= 2  # about Slack's 3 s, not botocore's 60 s
