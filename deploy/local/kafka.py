"""``python -m deploy.local.kafka``: the local Kafka broker in the foreground.

Listens on ``127.0.0.1:$MLP_KAFKA_PORT`` (default 9092) with its controller on
``$MLP_KAFKA_CONTROLLER_PORT`` (default 9093) and keeps its data in
``$MLP_KAFKA_DATA_DIR`` (default ``var/kafka``).

To use a Kafka you run yourself, point ``MLP_KAFKA_BOOTSTRAP`` at it (for instance
``MLP_KAFKA_BOOTSTRAP=kafka.example:9092 make run``): this entry then starts nothing
and just idles so that the rest of the process set keeps running.
"""

from __future__ import annotations

import os
import sys

from deploy.local.infra import PrerequisiteError, StartError, local_kafka, wait_forever


def main() -> None:
    """Exec the broker, or idle when an external Kafka is configured."""
    server = local_kafka()
    if server is None:
        wait_forever(f"Using the Kafka at {os.environ['MLP_KAFKA_BOOTSTRAP']}; not starting one.")
        return
    try:
        server.run_foreground()
    except (PrerequisiteError, StartError) as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
