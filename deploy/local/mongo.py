"""``python -m deploy.local.mongo``: the local MongoDB-wire server in the foreground.

``mongod`` (as the one-member replica set ``rs0``) when it is on the PATH, otherwise
SecantusDB. Listens on ``127.0.0.1:$MLP_MONGO_PORT`` (default 27017) and keeps its
data in ``$MLP_MONGO_DATA_DIR`` (default ``var/mongo``).

To use a MongoDB you run yourself (it must be a replica set: the services use
transactions), point ``MLP_MONGO_URI`` at it: this entry then starts nothing and
just idles so that the rest of the process set keeps running.
"""

from __future__ import annotations

import sys

from deploy.local.infra import PrerequisiteError, StartError, local_mongo, wait_forever


def main() -> None:
    """Run the server, or idle when an external MongoDB is configured."""
    server = local_mongo()
    if server is None:
        wait_forever("Using the MongoDB given by MLP_MONGO_URI; not starting one.")
        return
    try:
        server.run_foreground()
    except (PrerequisiteError, StartError) as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
