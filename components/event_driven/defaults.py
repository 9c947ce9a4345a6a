"""The `eventDriven` block's defaults per environment profile."""

from __future__ import annotations

import copy
from typing import Any

# The event-driven flow the repo ships: the orders service's OrderCreated event goes to the
# order-processing queue (consumed by order_processor) and to a notifications topic. Dev gives
# up on an undeliverable event quickly so it shows in a dead-letter queue while you look;
# staging and prod keep EventBridge's own retry defaults (185 attempts within 24 hours).
_ORDER_FLOW = {
    "queues": {"orderProcessing": {}},
    "topics": {"orderNotifications": {}},
    "functions": {
        "orderProcessor": {
            "code": "order_processor",
            "memoryMb": 256,
            "timeoutSeconds": 30,
            "queue": "orderProcessing",
            "batchSize": 10,
            "table": True,
        }
    },
    "rules": {
        "orderCreated": {
            "description": "Orders created by the orders service",
            "eventPattern": {"source": ["aws-patterns.orders"], "detail-type": ["OrderCreated"]},
            "targets": [{"queue": "orderProcessing"}, {"topic": "orderNotifications"}],
        }
    },
}


def _event_driven(archive_days: int, retries: int, max_age: int, max_receives: int, window: int) -> dict[str, Any]:
    block = copy.deepcopy(_ORDER_FLOW)
    block["queues"]["orderProcessing"]["maxReceiveCount"] = max_receives
    block["functions"]["orderProcessor"]["maximumBatchingWindowSeconds"] = window
    retry = {"maximumRetryAttempts": retries, "maximumEventAgeSeconds": max_age}
    # No profile borrows a bus: a stack names the one it attaches to (existingBus).
    return {
        "enabled": False,
        "archiveRetentionDays": archive_days,
        "retryPolicy": retry,
        **block,
        "existingBus": None,
    }


DEFAULTS = {
    "dev": _event_driven(archive_days=7, retries=3, max_age=3600, max_receives=3, window=0),
    "staging": _event_driven(archive_days=30, retries=185, max_age=86400, max_receives=5, window=5),
    "prod": _event_driven(archive_days=365, retries=185, max_age=86400, max_receives=5, window=5),
}
