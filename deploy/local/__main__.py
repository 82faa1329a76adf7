"""The local stack's command line, ``python -m deploy.local COMMAND``:

- ``jars``: fetch the Kafka jars into the cache (:mod:`deploy.local.jars`);
- ``check-ports``: check that every port ``make run`` needs is free;
- ``run``: start the whole process set with honcho (``make run``);
- ``serve kafka|mongo-<service>|smtp``: run one server of the process set in the
  foreground;
- ``ready``: wait until everything answers, say where, then idle;
- ``keep NAME -- COMMAND...``: run a command, restarting it with backoff when it
  ends (:mod:`deploy.local.keep`), so one crash does not stop ``make run``.

The Procfile's entries call ``keep``, ``serve`` and ``ready``. Every command reads the
environment once (:class:`~deploy.local.settings.LocalStack`).
"""

from __future__ import annotations

import sys

from deploy import catalog
from deploy.local import keep, ready, stack
from deploy.local.errors import PrerequisiteError, StartError
from deploy.local.jars import ensure_kafka_jars
from deploy.local.ports import check_ports
from deploy.local.settings import LocalStack

# The servers of the process set: Kafka, a MongoDB per service, the SMTP sink.
SERVED = ("kafka", *(f"mongo-{name}" for name in catalog.names()), "smtp")
USAGE = (
    "usage: python -m deploy.local"
    " {jars | check-ports | run | serve <server> | ready | keep <name> -- <command>}"
)


def main(argv: list[str]) -> int:
    try:
        if argv == ["jars"]:
            print(ensure_kafka_jars())
        elif argv == ["check-ports"]:
            check_ports(stack.ports(LocalStack.from_environ()))
        elif argv == ["run"]:
            local = LocalStack.from_environ()
            check_ports(stack.ports(local))
            stack.run(local)
        elif len(argv) == 2 and argv[0] == "serve" and argv[1] in SERVED:
            stack.serve(argv[1], LocalStack.from_environ())
        elif argv == ["ready"]:
            ready.main(LocalStack.from_environ())
        elif argv[:1] == ["keep"]:
            return keep.main(argv[1:])
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except (PrerequisiteError, StartError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
