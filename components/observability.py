"""Observability: one alarm topic, alarms on every resource the patterns build, one dashboard.

Built last, from the pattern components that exist. Each pattern contributes its resources
through its component's `monitored()` method (`Monitored`: its functions, stages, queues...);
supporting a new pattern is that one method. Every alarm:
- has a threshold from `observability.thresholds` (profile defaults, overridable per stack) or,
  where the condition is absolute (a message in a dead-letter queue, a tunnel down, fewer
  instances in service than the group's minimum), one derived from the resource itself;
- takes its dimensions from the outputs of the resource it watches, so it can never point at
  a name that does not exist;
- treats missing data according to what silence means for that metric (`AlarmKind.missing`):
  metrics that AWS only publishes when something happens (Lambda errors, API requests,
  EventBridge failures, ALB 5xx, DynamoDB throttles, a dead-letter queue that never received
  a message) are fine when silent; metrics AWS publishes all the time while the resource is up
  (RDS, VPN tunnel state, Auto Scaling group metrics) mean trouble when they stop;
- notifies the alarm topic on ALARM and on OK, and carries its meaning and first response in
  its description, so the notification says what to do.

AWS traps guarded here:
- CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its key policy
  cannot be extended): the topic gets a customer-managed key whose policy lets CloudWatch use it
  for this stack's alarms only, and the topic policy lets only those alarms publish.
- Metrics of rules on a custom bus carry the bus name as a dimension; without it the alarm
  watches a metric that never exists.
- DynamoDB's `ThrottledRequests` exists only per operation; the table-wide read and write
  throttle events are summed instead.
- Auto Scaling publishes group metrics only when the group collects them (`enabled_metrics`).
- HTTP APIs have no X-Ray tracing (only REST stages do); their requests are traced from the
  Lambda function onwards.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import policies, schema
from components.defaults import PROJECT
from components.naming import caller_account, name_tag

if TYPE_CHECKING:
    from components.config import StackConfig

LAMBDA_DEFAULT_TIMEOUT_S = 3  # what Lambda applies to a function created without a timeout
PERIOD = 300  # seconds: every alarm evaluates 5-minute periods
NOT_BREACHING, BREACHING = "notBreaching", "breaching"


@dataclass(frozen=True)
class AlarmKind:
    """One kind of alarm: what it watches, when it fires, what silence means, what to do."""

    resource: str  # the kind of resource it is created for
    meaning: str
    first_response: str
    comparison: str
    missing: str  # treat_missing_data
    threshold: str  # the `observability.thresholds` key, or how the threshold is derived
    namespace: str = ""
    metric: str = ""  # empty for metric-math alarms
    statistic: str = ""  # Sum, Average, Minimum, Maximum or a percentile such as p99
    evaluation_periods: int = 1


ALARMS: dict[str, AlarmKind] = {
    "function-errors": AlarmKind(
        "Lambda function",
        "invocations ended in an error (an exception, a timeout, out of memory)",
        "read the function's log group for the correlation id of a failing request, then its X-Ray trace",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "functionErrors",
        "AWS/Lambda", "Errors", "Sum",
    ),
    "function-throttles": AlarmKind(
        "Lambda function",
        "Lambda refused invocations: the account's (or the function's reserved) concurrency is used up",
        "check ConcurrentExecutions of the account and of this function; ask for a quota raise or reserve concurrency",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "functionThrottles",
        "AWS/Lambda", "Throttles", "Sum",
    ),
    "function-duration": AlarmKind(
        "Lambda function",
        "the slowest invocation came close to the function's timeout (threshold: that share of its timeout)",
        "find the slow calls in the X-Ray traces (a dependency, a cold start, a large batch); raise the timeout "
        "or the memory only once you know why",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "functionDurationPercentOfTimeout",
        "AWS/Lambda", "Duration", "Maximum",
    ),
    "rest-api-5xx": AlarmKind(
        "REST API stage",
        "the share of requests answered with a 5xx (the function failed or API Gateway did) is above the threshold",
        "look at the function errors alarm of the same service, then the stage's access and execution logs",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "apiServerErrorPercent",
        "AWS/ApiGateway", evaluation_periods=2,
    ),
    "rest-api-latency": AlarmKind(
        "REST API stage",
        "99th percentile of request latency is above the threshold for 15 minutes",
        "compare Latency with IntegrationLatency: the same means the function is slow (see its traces), "
        "a gap means API Gateway itself",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "apiLatencyP99Ms",
        "AWS/ApiGateway", "Latency", "p99", evaluation_periods=3,
    ),
    "http-api-5xx": AlarmKind(
        "HTTP API stage",
        "the share of requests answered with a 5xx is above the threshold",
        "look at the intake function's errors alarm, then the stage's access log (integrationError)",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "apiServerErrorPercent",
        "AWS/ApiGateway", evaluation_periods=2,
    ),
    "http-api-latency": AlarmKind(
        "HTTP API stage",
        "99th percentile of request latency is above the threshold for 15 minutes",
        "compare with the function's duration and traces",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "apiLatencyP99Ms",
        "AWS/ApiGateway", "Latency", "p99", evaluation_periods=3,
    ),
    "queue-age": AlarmKind(
        "SQS queue",
        "the oldest message has waited longer than the threshold: the consumer is failing, throttled or too slow",
        "check the consumer's errors and throttles alarms and its event source mapping (enabled? errors in its logs?)",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "queueOldestMessageSeconds",
        "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum",
    ),
    "dead-letter-messages": AlarmKind(
        "SQS dead-letter queue",
        "at least one message is in a dead-letter queue: something was given up on",
        "read the messages (and the consumer's logs for their ids), fix the cause, then redrive them to the source",
        "GreaterThanThreshold", NOT_BREACHING, "0 (any message)",
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
    ),
    "rule-failed-invocations": AlarmKind(
        "EventBridge rule",
        "EventBridge failed permanently to deliver events to a target of the rule",
        "check the target's dead-letter queue (the error is in the message attributes) and the target's policy",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "ruleFailedInvocations",
        "AWS/Events", "FailedInvocations", "Sum",
    ),
    "load-balancer-5xx": AlarmKind(
        "Application Load Balancer",
        "the share of requests answered 5xx, by the ALB (no healthy target, timeouts) or by the app, is above the "
        "threshold",
        "split HTTPCode_ELB_5XX_Count from HTTPCode_Target_5XX_Count on the dashboard; then unhealthy hosts or the "
        "app's journal (Session Manager)",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "loadBalancerServerErrorPercent",
        "AWS/ApplicationELB", evaluation_periods=2,
    ),
    "unhealthy-hosts": AlarmKind(
        "target group",
        "at least one instance fails the liveness check for 10 minutes (its app process does not answer)",
        "the app did not start or keeps crashing: read the instance's journal (Session Manager) and the group's "
        "activity history",
        "GreaterThanThreshold", NOT_BREACHING, "0 (any host)",
        "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", evaluation_periods=2,
    ),
    "target-response-time": AlarmKind(
        "target group",
        "99th percentile of the app's response time is above the threshold for 15 minutes",
        "check the database CPU and connections alarms, then the instances' CPU (scaling at its maximum?)",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "targetResponseTimeP99Ms",
        "AWS/ApplicationELB", "TargetResponseTime", "p99", evaluation_periods=3,
    ),
    "not-ready": AlarmKind(
        "web tier",
        "an instance reported itself not ready for 10 minutes: it cannot use its database as the application "
        "role, or the schema is not migrated; silence means no instance reports",
        "check the database alarms, then the migration function's log and the instance's journal (Session "
        "Manager); the load balancer keeps serving from the instance, so reads and writes answer 503",
        "LessThanThreshold", BREACHING, "1 (every instance ready)",
        "aws-patterns/WebTier", "Ready", "Minimum", evaluation_periods=2,
    ),
    "in-service-below-minimum": AlarmKind(
        "Auto Scaling group",
        "fewer instances in service than the group's minimum for 15 minutes (launches failing or instances "
        "replaced in a loop); silence means the group stopped reporting",
        "read the group's activity history for failed launches; check the unhealthy hosts alarm",
        "LessThanThreshold", BREACHING, "the group's minSize",
        "AWS/AutoScaling", "GroupInServiceInstances", "Minimum", evaluation_periods=3,
    ),
    "database-cpu": AlarmKind(
        "RDS instance",
        "database CPU above the threshold for 15 minutes; silence means the instance is not reporting (down)",
        "Performance Insights' top SQL (staging, prod); scale the instance class if the load is legitimate",
        "GreaterThanOrEqualToThreshold", BREACHING, "databaseCpuPercent",
        "AWS/RDS", "CPUUtilization", "Average", evaluation_periods=3,
    ),
    "database-free-storage": AlarmKind(
        "RDS instance",
        "free storage below the threshold share of the allocated storage; silence means the instance is down",
        "raise multiTier.database.allocatedStorageGb (no downtime) and look for what grew",
        "LessThanOrEqualToThreshold", BREACHING, "databaseFreeStoragePercent (of allocatedStorageGb)",
        "AWS/RDS", "FreeStorageSpace", "Minimum",
    ),
    "database-connections": AlarmKind(
        "RDS instance",
        "open connections above the threshold (near max_connections, when new ones are refused)",
        "count connections per client in pg_stat_activity; instances leaking connections, or too many instances",
        "GreaterThanOrEqualToThreshold", BREACHING, "databaseConnections",
        "AWS/RDS", "DatabaseConnections", "Maximum", evaluation_periods=2,
    ),
    "vpn-tunnel-down": AlarmKind(
        "VPN connection",
        "at least one of the two tunnels is down for 15 minutes (no redundancy left); silence counts as down",
        "ask the network team to check the device's IKE/IPsec logs for that tunnel (AWS's endpoints are in the "
        "hybrid output); the tunnel logs are in the hybrid log group",
        "LessThanThreshold", BREACHING, "1 (both tunnels up)",
        "AWS/VPN", "TunnelState", "Minimum", evaluation_periods=3,
    ),
    "vpn-down": AlarmKind(
        "VPN connection",
        "both tunnels are down: on-premises cannot reach the VPC; silence counts as down",
        "page the network team: the device, its internet link, or its public address (customerGatewayIp)",
        "LessThanOrEqualToThreshold", BREACHING, "0 (no tunnel up)",
        "AWS/VPN", "TunnelState", "Maximum",
    ),
    "table-throttles": AlarmKind(
        "DynamoDB table",
        "DynamoDB throttled reads or writes (read + write throttle events) above the threshold",
        "find the hot partition key (CloudWatch Contributor Insights); on-demand tables throttle above twice "
        "their previous peak",
        "GreaterThanOrEqualToThreshold", NOT_BREACHING, "tableThrottledRequests",
        "AWS/DynamoDB",
    ),
}  # fmt: skip


# --- what each pattern asks to be watched -------------------------------------------------------


@dataclass(frozen=True)
class RestStage:
    api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage


@dataclass(frozen=True)
class HttpStage:
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage


@dataclass(frozen=True)
class Rule:
    rule: aws.cloudwatch.EventRule
    bus_name: pulumi.Input[str] | None  # None: the account's default bus


@dataclass(frozen=True)
class LoadBalancer:
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup


# Where web tiers publish their instances' readiness (1 or 0 per instance and minute).
READINESS_NAMESPACE = ALARMS["not-ready"].namespace


@dataclass(frozen=True)
class Readiness:
    """A tier whose instances publish `Ready` under READINESS_NAMESPACE with these dimensions."""

    dimensions: dict[str, pulumi.Input[str]]


@dataclass(frozen=True)
class Monitored:
    """The resources of one pattern that get alarms, keyed by a short name (used in alarm names)."""

    title: str  # the pattern's section of the dashboard
    functions: dict[str, aws.lambda_.Function] = field(default_factory=dict)
    rest_stages: dict[str, RestStage] = field(default_factory=dict)
    http_stages: dict[str, HttpStage] = field(default_factory=dict)
    queues: dict[str, aws.sqs.Queue] = field(default_factory=dict)
    dead_letter_queues: dict[str, aws.sqs.Queue] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    auto_scaling_groups: dict[str, aws.autoscaling.Group] = field(default_factory=dict)
    readiness: dict[str, Readiness] = field(default_factory=dict)
    databases: dict[str, aws.rds.Instance] = field(default_factory=dict)
    vpn_connections: dict[str, aws.ec2.VpnConnection] = field(default_factory=dict)
    tables: dict[str, aws.dynamodb.Table] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservabilityArgs:
    region: str
    thresholds: schema.AlarmThresholds
    monitored: tuple[Monitored, ...]
    alarm_emails: tuple[str, ...] = ()
    alarm_https_endpoints: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: StackConfig, patterns: dict[str, object | None]) -> ObservabilityArgs:
        """`patterns`: config block -> its component, or None when the stack does not build it.

        Every pattern component says what of it gets alarms through its `monitored()` method.
        """
        blind = sorted(key for key, c in patterns.items() if c is not None and not hasattr(c, "monitored"))
        if blind:
            raise ValueError(f"observability: the components of {blind} have no monitored() method")
        block = cfg.observability
        return cls(
            region=cfg.region,
            thresholds=block.thresholds,
            monitored=tuple(c.monitored() for c in patterns.values() if c is not None),  # type: ignore[attr-defined]
            alarm_emails=tuple(block.alarm_emails),
            alarm_https_endpoints=tuple(block.alarm_https_endpoints),
        )


def alarm_name_prefix() -> str:
    """Every alarm of the stack is named with this prefix; the topic's grants are scoped to it."""
    return f"{PROJECT}-{pulumi.get_stack()}-"


def dashboard_name() -> str:
    # Dashboard names allow letters, digits, '-' and '_' only; stack names may also hold '.'.
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{PROJECT}-{pulumi.get_stack()}")[:255]


@dataclass
class _Watched:
    """One alarm as the dashboard shows it: its section, kind, label and metric lines."""

    section: str
    kind: str
    label: str
    alarm: aws.cloudwatch.MetricAlarm
    lines: list[list[Any]]


def _metric(namespace: str, metric: str, dimensions: dict[str, pulumi.Input[str]], stat: str) -> dict[str, Any]:
    return {"namespace": namespace, "metric_name": metric, "dimensions": dimensions, "stat": stat, "period": PERIOD}


class Observability(pulumi.ComponentResource):
    """Encrypted alarm topic and its subscriptions, an alarm set per watched resource, a dashboard."""

    key: aws.kms.Key
    topic: aws.sns.Topic
    topic_policy: aws.sns.TopicPolicy
    subscriptions: list[aws.sns.TopicSubscription]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]  # keyed "<section>/<resource>/<kind>"
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:observability:Observability", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._args = args
        self._watched: list[_Watched] = []
        account = caller_account(self)
        alarms_arn = pulumi.Output.concat(
            f"arn:aws:cloudwatch:{args.region}:", account, f":alarm:{alarm_name_prefix()}*"
        )

        self.key = self._key(name, account, alarms_arn)
        self.topic = aws.sns.Topic(
            name, kms_master_key_id=self.key.arn, tags=name_tag(name, "alarms"), opts=self._child
        )
        self.topic_policy = aws.sns.TopicPolicy(
            name,
            arn=self.topic.arn,
            policy=policies.document(
                [
                    policies.tls_only(self.topic.arn, "sns:Publish"),
                    {
                        "Sid": "ThisStacksAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {"aws:SourceArn": alarms_arn},
                        },
                    },
                ]
            ),
            opts=self._child,
        )
        # Named after the endpoint, not its position: removing one address must not replace (and
        # send new confirmation requests for) the others.
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-{protocol}-{hashlib.sha256(endpoint.encode()).hexdigest()[:8]}",
                topic=self.topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                opts=self._child,
            )
            for protocol, endpoints in (("email", args.alarm_emails), ("https", args.alarm_https_endpoints))
            for endpoint in endpoints
        ]

        self.alarms = {}
        for monitored in args.monitored:
            self._watch(monitored)
        self.dashboard = aws.cloudwatch.Dashboard(
            name,
            dashboard_name=dashboard_name(),
            dashboard_body=pulumi.Output.json_dumps(self._dashboard_body()),
            opts=self._child,
        )
        self.register_outputs(
            {
                "topicArn": self.topic.arn,
                "dashboardName": self.dashboard.dashboard_name,
                "alarmNames": [a.name for a in self.alarms.values()],
            }
        )

    def _key(self, name: str, account: pulumi.Input[str], alarms_arn: pulumi.Input[str]) -> aws.kms.Key:
        return aws.kms.Key(
            name,
            description="Encrypts the alarm topic; CloudWatch may use it for this stack's alarms only",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policies.document(
                [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", account, ":root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        # SNS encrypts each notification with a data key generated as CloudWatch.
                        "Sid": "ThisStacksAlarmsEncrypt",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {"aws:SourceArn": alarms_arn},
                        },
                    },
                ]
            ),
            tags=name_tag(name, "alarms"),
            opts=self._child,
        )

    # --- alarms -------------------------------------------------------------------------------

    def _alarm(
        self,
        section: Monitored,
        resource: str,
        kind_id: str,
        threshold: pulumi.Input[float],
        metrics: dict[str, dict[str, Any]] | None = None,
        expression: str | None = None,
        dimensions: dict[str, pulumi.Input[str]] | None = None,
    ) -> aws.cloudwatch.MetricAlarm:
        """One alarm of kind `kind_id` on `resource`: a single metric, or `expression` over `metrics`."""
        kind = ALARMS[kind_id]
        slug = re.sub(r"[^a-z0-9]+", "-", f"{section.title}-{resource}".lower()).strip("-")
        single: dict[str, Any] = {}
        queries = None
        if expression is None:
            percentile = re.fullmatch(r"p\d+(\.\d+)?", kind.statistic)
            single = {
                "namespace": kind.namespace,
                "metric_name": kind.metric,
                "dimensions": dimensions,
                "period": PERIOD,
                "statistic": None if percentile else kind.statistic,
                "extended_statistic": kind.statistic if percentile else None,
            }
            lines = [_line(_metric(kind.namespace, kind.metric, dimensions or {}, kind.statistic), resource)]
        else:
            assert metrics is not None
            queries = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="rate", expression=expression, return_data=True, label=kind_id
                )
            ] + [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query_id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=m["namespace"],
                        metric_name=m["metric_name"],
                        dimensions=m["dimensions"],
                        stat=m["stat"],
                        period=m["period"],
                    ),
                )
                for query_id, m in metrics.items()
            ]
            lines = [_line(m, f"{resource} {m['metric_name']}") for m in metrics.values()]
        alarm = aws.cloudwatch.MetricAlarm(
            f"{slug}-{kind_id}",
            name=f"{alarm_name_prefix()}{slug}-{kind_id}",
            alarm_description=f"{section.title} {kind.resource} {resource}: {kind.meaning}. "
            f"First response: {kind.first_response}.",
            comparison_operator=kind.comparison,
            threshold=threshold,
            evaluation_periods=kind.evaluation_periods,
            datapoints_to_alarm=kind.evaluation_periods,
            treat_missing_data=kind.missing,
            metric_queries=queries,
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=name_tag("alarm", slug, kind_id),
            opts=self._child,
            **single,
        )
        self.alarms[f"{section.title}/{resource}/{kind_id}"] = alarm
        self._watched.append(_Watched(section.title, kind_id, resource, alarm, lines))
        return alarm

    def _watch(self, m: Monitored) -> None:
        t = self._args.thresholds
        for name, fn in m.functions.items():
            dims = {"FunctionName": fn.name}
            self._alarm(m, name, "function-errors", t.function_errors, dimensions=dims)
            self._alarm(m, name, "function-throttles", t.function_throttles, dimensions=dims)
            percent = t.function_duration_percent_of_timeout
            # Duration is in milliseconds, the timeout in seconds.
            near_timeout = fn.timeout.apply(lambda s, p=percent: (s or LAMBDA_DEFAULT_TIMEOUT_S) * 1000 * p / 100)
            self._alarm(m, name, "function-duration", near_timeout, dimensions=dims)
        for name, rest in m.rest_stages.items():
            dims = {"ApiName": rest.api.name, "Stage": rest.stage.stage_name}
            self._rate(m, name, "rest-api-5xx", t.api_server_error_percent, "AWS/ApiGateway", "5XXError", "Count", dims)
            self._alarm(m, name, "rest-api-latency", t.api_latency_p99_ms, dimensions=dims)
        for name, http in m.http_stages.items():
            dims = {"ApiId": http.api.id, "Stage": http.stage.name}
            self._rate(m, name, "http-api-5xx", t.api_server_error_percent, "AWS/ApiGateway", "5xx", "Count", dims)
            self._alarm(m, name, "http-api-latency", t.api_latency_p99_ms, dimensions=dims)
        for name, queue in m.queues.items():
            self._alarm(m, name, "queue-age", t.queue_oldest_message_seconds, dimensions={"QueueName": queue.name})
        for name, dlq in m.dead_letter_queues.items():
            self._alarm(m, name, "dead-letter-messages", 0, dimensions={"QueueName": dlq.name})
        for name, rule in m.rules.items():
            # Rules on a custom bus report under both dimensions; RuleName alone is the default bus.
            bus: dict[str, pulumi.Input[str]] = {} if rule.bus_name is None else {"EventBusName": rule.bus_name}
            dims = {**bus, "RuleName": rule.rule.name}
            self._alarm(m, name, "rule-failed-invocations", t.rule_failed_invocations, dimensions=dims)
        for name, lb in m.load_balancers.items():
            self._load_balancer(m, name, lb)
        for name, group in m.auto_scaling_groups.items():
            dims = {"AutoScalingGroupName": group.name}
            self._alarm(m, name, "in-service-below-minimum", group.min_size, dimensions=dims)
        for name, ready in m.readiness.items():
            self._alarm(m, name, "not-ready", 1, dimensions=ready.dimensions)
        for name, db in m.databases.items():
            dims = {"DBInstanceIdentifier": db.identifier}
            self._alarm(m, name, "database-cpu", t.database_cpu_percent, dimensions=dims)
            percent = t.database_free_storage_percent
            free = db.allocated_storage.apply(lambda gb, p=percent: gb * 1024**3 * p / 100)
            self._alarm(m, name, "database-free-storage", free, dimensions=dims)
            self._alarm(m, name, "database-connections", t.database_connections, dimensions=dims)
        for name, vpn in m.vpn_connections.items():
            # Without a tunnel dimension TunnelState is the connection's average: 1 when both are
            # up, 0.5 with one down, 0 with none.
            dims = {"VpnId": vpn.id}
            self._alarm(m, name, "vpn-tunnel-down", 1, dimensions=dims)
            self._alarm(m, name, "vpn-down", 0, dimensions=dims)
        for name, table in m.tables.items():
            dims = {"TableName": table.name}
            reads = _metric("AWS/DynamoDB", "ReadThrottleEvents", dims, "Sum")
            writes = _metric("AWS/DynamoDB", "WriteThrottleEvents", dims, "Sum")
            self._alarm(
                m,
                name,
                "table-throttles",
                t.table_throttled_requests,
                metrics={"reads": reads, "writes": writes},
                expression="FILL(reads, 0) + FILL(writes, 0)",
            )

    def _rate(
        self,
        m: Monitored,
        name: str,
        kind_id: str,
        percent: int,
        namespace: str,
        errors_metric: str,
        count_metric: str,
        dims: dict[str, pulumi.Input[str]],
    ) -> None:
        """A percentage of requests that failed; no requests, no data (and no alarm)."""
        self._alarm(
            m,
            name,
            kind_id,
            percent,
            metrics={
                "errors": _metric(namespace, errors_metric, dims, "Sum"),
                "requests": _metric(namespace, count_metric, dims, "Sum"),
            },
            expression="IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
        )

    def _load_balancer(self, m: Monitored, name: str, lb: LoadBalancer) -> None:
        t = self._args.thresholds
        alb = {"LoadBalancer": lb.load_balancer.arn_suffix}
        target = {"TargetGroup": lb.target_group.arn_suffix, "LoadBalancer": lb.load_balancer.arn_suffix}
        # The ALB publishes its 5xx counts only when they are not zero.
        self._alarm(
            m,
            name,
            "load-balancer-5xx",
            t.load_balancer_server_error_percent,
            metrics={
                "elb": _metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb, "Sum"),
                "target": _metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb, "Sum"),
                "requests": _metric("AWS/ApplicationELB", "RequestCount", alb, "Sum"),
            },
            expression="IF(requests > 0, 100 * (FILL(elb, 0) + FILL(target, 0)) / requests, 0)",
        )
        self._alarm(m, name, "unhealthy-hosts", 0, dimensions=target)
        # TargetResponseTime is in seconds.
        self._alarm(m, name, "target-response-time", t.target_response_time_p99_ms / 1000, dimensions=target)

    # --- dashboard ----------------------------------------------------------------------------

    def _dashboard_body(self) -> dict[str, Any]:
        """A text header, the alarms' states and a graph per alarm kind, for each pattern in turn."""
        widgets: list[dict[str, Any]] = []
        y = 0
        sections = list(dict.fromkeys(w.section for w in self._watched))
        for section in sections:
            watched = [w for w in self._watched if w.section == section]
            widgets.append(
                {"type": "text", "x": 0, "y": y, "width": 24, "height": 1, "properties": {"markdown": f"## {section}"}}
            )
            widgets.append(
                {
                    "type": "alarm",
                    "x": 0,
                    "y": y + 1,
                    "width": 24,
                    "height": 3,
                    "properties": {"title": f"{section} alarms", "alarms": [w.alarm.arn for w in watched]},
                }
            )
            y += 4
            kinds = list(dict.fromkeys(w.kind for w in watched))
            for i, kind_id in enumerate(kinds):
                kind = ALARMS[kind_id]
                widgets.append(
                    {
                        "type": "metric",
                        "x": (i % 3) * 8,
                        "y": y + (i // 3) * 6,
                        "width": 8,
                        "height": 6,
                        "properties": {
                            "title": f"{kind.resource}: {kind_id}",
                            "region": self._args.region,
                            "view": "timeSeries",
                            "period": PERIOD,
                            "metrics": [line for w in watched if w.kind == kind_id for line in w.lines],
                        },
                    }
                )
            y += ((len(kinds) + 2) // 3) * 6
        return {"widgets": widgets}


def _line(metric: dict[str, Any], label: str) -> list[Any]:
    """A dashboard metric line: namespace, name, dimension pairs, then its rendering options."""
    pairs = [part for key, value in metric["dimensions"].items() for part in (key, value)]
    return [metric["namespace"], metric["metric_name"], *pairs, {"stat": metric["stat"], "label": label}]
