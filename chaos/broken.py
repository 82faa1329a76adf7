"""A deliberately broken worker, to prove the campaign can fail:
``python -m chaos.broken services.<name>.worker`` runs that worker with its
consumer committing each partition's offsets *before* handling the records
(instead of after their transaction), so a worker killed mid-batch loses them."""

from __future__ import annotations

import runpy
import sys
from typing import Any

from kafka.structs import OffsetAndMetadata

from shared import consumer as consumer_module

_handle_partition = consumer_module.ConsumerRunner._handle_partition


def _commit_first(self: Any, consumer: Any, tp: Any, records: list[Any]) -> bool:
    consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)})
    return _handle_partition(self, consumer, tp, records)


consumer_module.ConsumerRunner._handle_partition = _commit_first  # type: ignore[method-assign]

if __name__ == "__main__":
    module = sys.argv.pop(1)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
