"""Where ``charla`` finds the deployment, and how its failures read (one line, what to do, an exit code)."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

from charla_cli.endpoints import find_stack_file, resolve, write_stack_file
from charla_cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError, aws_errors
from charla_cli.main import main, status_exit

REPLIES = "CHARLA_QUEUE_URL_REPLIES"


@pytest.fixture
def listening_port() -> Iterator[int]:
    """Something listening on 127.0.0.1, standing in for a running moto server."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def write(path: Path, endpoint: str) -> Path:
    return write_stack_file(
        path / ".stack" / "endpoints.json",
        source="test",
        region="us-east-1",
        endpoint_url=endpoint,
        credentials={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        variables={REPLIES: f"{endpoint}/q/replies", "CHARLA_TABLE_STATE": "state"},
    )


def test_the_file_is_found_from_a_subdirectory_and_fills_what_the_environment_lacks(
    tmp_path: Path, listening_port: int
) -> None:
    endpoint = f"http://127.0.0.1:{listening_port}"
    write(tmp_path, endpoint)
    (tmp_path / "deep" / "er").mkdir(parents=True)

    found = resolve(environ={}, cwd=tmp_path / "deep" / "er")

    assert found.region == "us-east-1"
    assert found.endpoint_url == endpoint
    assert found.credentials["AWS_ACCESS_KEY_ID"] == "testing"
    assert found.variables[REPLIES] == f"{endpoint}/q/replies"
    assert find_stack_file(tmp_path / "deep") == tmp_path / ".stack" / "endpoints.json"


def test_flags_and_environment_variables_win_over_the_file(tmp_path: Path, listening_port: int) -> None:
    write(tmp_path, f"http://127.0.0.1:{listening_port}")

    found = resolve(
        environ={"AWS_REGION": "eu-west-1", REPLIES: "http://elsewhere/replies", "AWS_ACCESS_KEY_ID": "AKIAENV"},
        cwd=tmp_path,
        endpoint_url="http://flag:1",
    )

    assert (found.region, found.endpoint_url, found.variables[REPLIES]) == (
        "eu-west-1",
        "http://flag:1",
        "http://elsewhere/replies",
    )
    assert found.credentials == {"AWS_ACCESS_KEY_ID": "AKIAENV"}  # the file's moto keys are not mixed in
    assert found.variables["CHARLA_TABLE_STATE"] == "state"


def test_a_file_whose_stack_is_gone_is_one_line_saying_how_to_start_it(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    write(tmp_path, dead)

    with pytest.raises(CliError, match=r"is not running .*make chat") as caught:
        resolve(environ={}, cwd=tmp_path)

    assert caught.value.status == EXIT_UNREACHABLE


def test_a_named_file_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="does not exist") as caught:
        resolve(environ={"CHARLA_STACK_FILE": str(tmp_path / "nope.json")}, cwd=tmp_path)

    assert caught.value.status == EXIT_USAGE


@pytest.mark.parametrize(
    ("error", "expected", "status"),
    [
        (NoRegionError(), r"no AWS region \(set AWS_REGION", EXIT_USAGE),
        (NoCredentialsError(), r"no AWS credentials .*make chat", EXIT_UNREACHABLE),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), r"cannot reach http://127.0.0.1:9", 4),
    ],
)
def test_botocore_errors_become_one_line_with_what_to_do(error: Exception, expected: str, status: int) -> None:
    with pytest.raises(CliError, match=expected) as caught, aws_errors("reading the queues"):
        raise error

    assert caught.value.status == status
    assert "\n" not in str(caught.value)


def test_nothing_configured_is_one_line_on_stderr_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["status"], environ={}, cwd=tmp_path)

    err = capsys.readouterr().err
    assert status == EXIT_USAGE
    assert err.startswith("charla: no charla deployment found")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_env_prints_an_export_block_a_shell_can_source(
    tmp_path: Path, listening_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = f"http://127.0.0.1:{listening_port}"
    write(tmp_path, endpoint)

    assert main(["env"], environ={}, cwd=tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"export AWS_ENDPOINT_URL={endpoint}" in lines
    assert "export AWS_REGION=us-east-1" in lines
    assert f"export {REPLIES}={endpoint}/q/replies" in lines

    assert main(["env", "--json"], environ={}, cwd=tmp_path) == 0
    assert json.loads(capsys.readouterr().out)["CHARLA_TABLE_STATE"] == "state"


@pytest.mark.parametrize(
    ("waiting", "alive", "dead", "expected"),
    [(0, 0, 0, 0), (3, 1, 0, 0), (3, 0, 0, 6), (0, 0, 2, 5), (3, 0, 2, 6), (0, 1, 1, 5)],
)
def test_status_exit_codes_a_cron_job_can_act_on(waiting: int, alive: int, dead: int, expected: int) -> None:
    report = {"messages_waiting": waiting, "workers": {"alive": alive}, "dead_letters": dead}

    assert status_exit(report) == expected


def test_dlq_show_reads_the_reason_header_the_workers_write() -> None:
    from charla_cli import queues
    from contract.wire import encode_task_message
    from workers.redelivery import DEAD_LETTER_REASON_HEADER

    body = encode_task_message(
        task="charla.ping",
        kwargs={},
        queue="replies",
        task_id="t1",
        extra_headers={DEAD_LETTER_REASON_HEADER: "ReplyRefused: channel_not_found"},
    )

    assert queues.DEAD_LETTER_REASON_HEADER == DEAD_LETTER_REASON_HEADER
    assert queues.dead_letter_reason(body) == "ReplyRefused: channel_not_found"
    assert queues.dead_letter_reason(encode_task_message(task="charla.ping", kwargs={}, queue="replies")) is None
    assert queues.dead_letter_reason("not base64 at all") is None


def test_eval_charla_env_is_enough_for_boto3_and_the_aws_cli(tmp_path: Path, listening_port: int) -> None:
    import os
    import subprocess
    import sys

    endpoint = f"http://127.0.0.1:{listening_port}"
    write(tmp_path, endpoint)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    environ["HOME"] = str(tmp_path)  # no ~/.aws/config to fall back on
    environ["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    script = (
        f'eval "$({sys.executable} -m charla_cli env)" && '
        f"{sys.executable} -c 'import boto3; print(boto3.session.Session().region_name)' && "
        'echo "$AWS_DEFAULT_REGION"'
    )

    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["us-east-1", "us-east-1"]  # boto3's region; what the AWS CLI reads


def test_a_file_whose_owner_exited_is_stale_even_if_something_listens_there(
    tmp_path: Path, listening_port: int
) -> None:
    endpoint = f"http://127.0.0.1:{listening_port}"  # an orphan still answering on the port
    path = write(tmp_path, endpoint)
    document = json.loads(path.read_text())
    document["owner"] = {"pid": 2**22 + 1, "started": "1"}  # above Linux's pid_max: never alive
    path.write_text(json.dumps(document))

    with pytest.raises(
        CliError, match=r"is stale \(the process that started it \(pid 4194305\) has exited\).*make stop"
    ):
        resolve(environ={}, cwd=tmp_path)


def test_an_unreachable_endpoint_is_said_as_such_not_as_missing_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"

    status = main(["--endpoint-url", dead, "status"], environ={REPLIES: f"{dead}/q"}, cwd=tmp_path)

    assert status == EXIT_UNREACHABLE
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"charla: cannot reach {dead}") and "credentials" not in line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "the following arguments are required: COMMAND (see `charla --help`)"),
        (["dlq", "shw"], "invalid choice: 'shw'"),
        (["dlq", "show", "--limit", "x"], "invalid int value: 'x' (see `charla dlq show --help`)"),
    ],
)
def test_a_wrong_command_line_is_one_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv, environ={})

    assert exited.value.code == EXIT_USAGE
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("charla: error: ") and expected in line
