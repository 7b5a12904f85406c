"""Local tooling: the Slack stand-in, the local stack harness, demo and chat."""
