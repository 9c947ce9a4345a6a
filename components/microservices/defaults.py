"""The `microservices` block's defaults per environment profile."""

from __future__ import annotations

import copy
from typing import Any

# The microservices the repo ships: users and orders, each with its own table, function and
# routes. The key schemas are the handlers' contract (lambdas/users, lambdas/orders) and the
# handler tests build their tables from these same values. Stage logging needs the account-wide
# API Gateway CloudWatch role, which one stack per account and region owns: prod manages it
# (access logs, error execution logs and per-method metrics are what an investigation needs);
# dev and staging log nothing until a stack says `manage` or `existing`, since they may share an
# account with prod, whose role would then be replaced.
_USERS_SERVICE = {
    "enabled": True,
    "partitionKey": {"name": "id", "type": "S"},
    "globalSecondaryIndexes": [],
    "tableActions": ["GetItem", "PutItem", "DeleteItem", "Scan"],
    "timeoutSeconds": 10,
    "publishesEvents": False,
    "routes": ["GET /users", "POST /users", "GET /users/{id}", "DELETE /users/{id}"],
}
_ORDERS_SERVICE = {
    "enabled": True,
    "partitionKey": {"name": "orderId", "type": "S"},
    "globalSecondaryIndexes": [
        {
            "name": "byUser",
            "partitionKey": {"name": "userId", "type": "S"},
            "sortKey": {"name": "createdAt", "type": "S"},
        }
    ],
    "tableActions": ["GetItem", "PutItem", "UpdateItem", "Query"],
    "timeoutSeconds": 10,
    "publishesEvents": True,
    "routes": ["GET /orders", "POST /orders", "GET /orders/{id}"],
}


def _microservices(
    memory: int, rate: int, burst: int, authorization: str, pitr: bool, logging: str, log_level: str, metrics: bool
) -> dict[str, Any]:
    return {
        "enabled": False,
        "stageName": "v1",
        "authorization": authorization,
        "apiGatewayAccountLogging": logging,
        "executionLogLevel": log_level,
        "metricsEnabled": metrics,
        "throttling": {"rateLimit": rate, "burstLimit": burst},
        "pointInTimeRecovery": pitr,
        "services": {
            "users": {**copy.deepcopy(_USERS_SERVICE), "memoryMb": memory},
            "orders": {**copy.deepcopy(_ORDERS_SERVICE), "memoryMb": memory},
        },
    }


DEFAULTS = {
    "dev": _microservices(
        memory=256, rate=50, burst=100, authorization="NONE", pitr=False, logging="off", log_level="OFF", metrics=False
    ),
    "staging": _microservices(
        memory=256,
        rate=200,
        burst=400,
        authorization="AWS_IAM",
        pitr=True,
        logging="off",
        log_level="OFF",
        metrics=False,
    ),
    "prod": _microservices(
        memory=512,
        rate=1000,
        burst=2000,
        authorization="AWS_IAM",
        pitr=True,
        logging="manage",
        log_level="ERROR",
        metrics=True,
    ),
}
