"""The embedded local emulator: moto in this process, the stack deployed into it, Lambdas run.

    emulator = LocalEmulator(port=4599, workdir=Path(".runbook/local"))
    emulator.start()              # moto server + Lambda/EventBridge/CloudWatch/SNS hooks
    deployment = emulator.deploy()  # synth, publish assets, create the stack, fill moto's gaps
    ...                           # any client: --endpoint-url http://127.0.0.1:4599
    emulator.stop()

One emulator per process: the hooks patch moto's classes, and moto's backends are global.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID

from runbook.local import (
    alarms,
    events,
    lambda_runtime,
    logs_insights,
    moto_fixes,
    schedule,
    stack_readiness,
)
from runbook.local.alarm_actions import AlarmActions
from runbook.local.alarm_evaluator import AlarmEvaluator
from runbook.local.automation import Automation
from runbook.local.cloudformation_gaps import (
    ExpectedGapsFilter,
    GapContext,
    fill_gaps,
    moto_stack,
)
from runbook.local.deliveries import Deliveries, install_deliveries, remove_deliveries
from runbook.local.deploy import Deployment, publish_assets, submit_stack, wait_for_stack
from runbook.local.ec2_status import HostFaults
from runbook.local.faults import FaultPlan
from runbook.local.opscenter import OpsCenter
from runbook.local.scheduler import ScheduleRunner
from runbook.local.server import MotoServer
from runbook.local.synth import StackArtifact, local_context, read_stack, synthesise
from runbook.local.telemetry import Telemetry

LOGGER = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "IncidentRunbook"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")


class LocalEmulator:
    """Start moto, deploy the synthesised stack, and behave like the AWS services it uses."""

    account = DEFAULT_ACCOUNT_ID

    def __init__(
        self,
        port: int,
        workdir: Path,
        settings_overrides: dict[str, Any] | None = None,
        *,
        region: str = "us-east-1",
        app_dir: Path = REPO_ROOT,
        functions_dir: Path | None = REPO_ROOT / "functions",
        stack_name: str = STACK_NAME,
        schedule_tick_seconds: float = 5.0,
        alarm_time_scale: float = 60.0,
        automation_step_seconds: float = 0.5,
    ) -> None:
        """``settings_overrides``: camelCase keys of the ``incident-runbook`` context merged over
        the emulator's (``local: true``, ``recoveryTimeoutSeconds: 60``). ``functions_dir``:
        run every Lambda from this source folder (edits show at the next cold start); ``None``
        runs the deployed asset instead. ``schedule_tick_seconds``: every scheduled rule and
        EventBridge Scheduler schedule fires at most this often locally, whatever its rate
        (time is compressed; see schedule.py, scheduler.py). ``alarm_time_scale``: an alarm
        period of P seconds lasts P / alarm_time_scale wall seconds (alarm_evaluator.py).
        ``automation_step_seconds``: how long an Automation step takes (automation.py)."""
        self.port = port
        self.workdir = Path(workdir).resolve()
        self.settings_overrides = dict(settings_overrides or {})
        self.region = region
        self.app_dir = app_dir
        self.functions_dir = functions_dir
        self.stack_name = stack_name
        self.deployments: dict[str, Deployment] = {}
        """Every stack deployed, by name (the runbook's is ``stack_name``)."""
        logs = self.workdir / "logs"
        self.faults = FaultPlan(logs / "faults.log")
        """Injected failures of AWS calls and Lambda functions (faults.py); empty by default."""
        self.opscenter = OpsCenter()
        """SSM OpsItems (opscenter.py): ``opscenter.ops_items()`` lists them."""
        self.automation = Automation(
            step_seconds=automation_step_seconds, log_path=logs / "automation.log"
        )
        """SSM Automation executions (automation.py): ``automation.script(...)`` says what a
        step does, ``automation.wait(id)`` waits for the end."""
        self.host_faults = HostFaults()
        """EC2 hosts that fail instances' system status checks (ec2_status.py):
        ``host_faults.impair(instance_id)``, cleared when the instance is stopped."""
        self.deliveries = Deliveries(logs / "deliveries.log")
        """Every SNS delivery to an sms/email/email-json/http(s) endpoint (deliveries.py):
        ``emulator.deliveries(topic=..., protocol=..., endpoint=...)``."""
        self.alarm_evaluator = AlarmEvaluator(
            time_scale=alarm_time_scale, log_file=logs / "alarms.log"
        )
        """Evaluates the deployed stacks' alarms (alarm_evaluator.py); ``time_scale`` and
        ``watch(name, account, region)`` may be changed at run time."""
        self._alarm_actions = AlarmActions(logs / "alarms.log")
        self._server = MotoServer(port, request_log=logs / "requests.log", wrap=self._wrap_moto)
        self.automation.endpoint_url = self._server.endpoint_url
        self._telemetry: Telemetry | None = None
        self._runtime: lambda_runtime.LambdaRuntime | None = None
        self.schedule_tick_seconds = schedule_tick_seconds
        self._scheduler: schedule.Scheduler | None = None
        self._schedules: ScheduleRunner | None = None
        self._started = False

    def _wrap_moto(self, app: Any) -> Any:
        """What stands in front of moto's app: fault injection first (so it reaches the
        emulator's own APIs too), then OpsCenter and Automation, which moto lacks."""
        return self.faults.middleware(self.opscenter.middleware(self.automation.middleware(app)))

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return self._server.endpoint_url

    @property
    def runtime(self) -> lambda_runtime.LambdaRuntime:
        if self._runtime is None:
            raise RuntimeError("the emulator is not started")
        return self._runtime

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def start(self) -> None:
        """Start moto on 127.0.0.1:port and hook Lambda, EventBridge and CloudWatch."""
        if self._started:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._server.start()
        try:
            self._telemetry = Telemetry(self.endpoint_url, self.region)
            self._telemetry.start()
            self._runtime = lambda_runtime.LambdaRuntime(
                self.endpoint_url,
                self.region,
                self.workdir,
                telemetry=self._telemetry,
                faults=self.faults,
            )
            lambda_runtime.install_invoke_hook(self._runtime)
            router = events.EventRouter(self._runtime, self.log_dir / "events.log")
            events.install_event_routing(router)
            alarms.install_alarm_events(alarms.emit_state_change, self._alarm_actions)
            install_deliveries(self.deliveries)
            moto_fixes.install_moto_fixes()
            self.host_faults.install()
            stack_readiness.install()
            logs_insights.install_logs_insights()
            self._scheduler = schedule.Scheduler(
                router,
                self.account,
                self.region,
                self.log_dir / "schedule.log",
                tick_seconds=self.schedule_tick_seconds,
            )
            self._scheduler.start()
            self._schedules = ScheduleRunner(
                self._runtime,
                self.account,
                self.region,
                self.log_dir / "schedule.log",
                tick_seconds=self.schedule_tick_seconds,
            )
            self._schedules.start()
            self.alarm_evaluator.start()
        except BaseException:
            self._server.stop()
            raise
        self._started = True

    def stop(self) -> None:
        """Unhook moto, stop the workers and the server; safe to call twice."""
        if not self._started:
            return
        if self._scheduler is not None:  # first: a tick must not reach a stopped runtime
            self._scheduler.stop()
            self._scheduler = None
        if self._schedules is not None:
            self._schedules.stop()
            self._schedules = None
        self.alarm_evaluator.stop()
        self.automation.shutdown()
        logs_insights.remove_logs_insights()
        stack_readiness.remove()
        moto_fixes.remove_moto_fixes()
        self.host_faults.remove()
        remove_deliveries()
        alarms.remove_alarm_events()
        events.remove_event_routing()
        lambda_runtime.remove_invoke_hook()
        if self._runtime is not None:
            self._runtime.shutdown()
        if self._telemetry is not None:
            self._telemetry.stop()
        self._server.stop()
        self._started = False

    def __enter__(self) -> LocalEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- deployment ------------------------------------------------------------------------
    def synth(self) -> StackArtifact:
        """Synthesise the CDK app into workdir/cdk.out with local settings."""
        context = local_context(self.settings_overrides, self.account, self.region)
        assembly = synthesise(self.app_dir, self.workdir / "cdk.out", context)
        return read_stack(assembly, self.stack_name)

    def deploy(self, artifact: StackArtifact | None = None) -> Deployment:
        """Synthesise (unless given an artifact), publish assets, create the stack, fill gaps."""
        if not self._started:
            raise RuntimeError("call start() before deploy()")
        artifact = artifact or self.synth()
        publish_assets(self.client("s3"), artifact, self.account, self.region)
        cloudformation = self.client("cloudformation")
        moto_logger = logging.getLogger("moto")
        expected = ExpectedGapsFilter()
        # The stack stays IN_PROGRESS until every resource answers: moto's part, the gaps
        # filled here and the runtime's view of the functions (issue 16).
        with stack_readiness.hold(artifact.name) as held:
            moto_logger.addFilter(expected)
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Tried to parse AWS::")
                    waiter = submit_stack(cloudformation, artifact, CAPABILITIES)
            finally:
                moto_logger.removeFilter(expected)
            gaps = fill_gaps(
                GapContext(
                    clients=self.client,
                    account=self.account,
                    region=self.region,
                    stack_name=artifact.name,
                    moto_stack=moto_stack(self.account, self.region, artifact.name),
                ),
                artifact.template(),
            )
            self.runtime.log_groups.update(gaps.log_groups)
            for alarm in gaps.alarms:  # the stack's alarms, and only those, are evaluated
                self.alarm_evaluator.watch(alarm, self.account, self.region)
            if self.functions_dir is not None:
                # The stack's one Lambda asset is the functions/ folder (docs/contracts.md).
                for name in gaps.functions:
                    self.runtime.source_dirs[name] = self.functions_dir
            held.release()
        deployment = wait_for_stack(cloudformation, artifact.name, waiter)
        deployment.resources.update(gaps.created)
        self.deployments[artifact.name] = deployment
        return deployment

    def fire_scheduled_rules(self) -> list[dict[str, Any]]:
        """Fire every enabled scheduled rule now (one scheduler tick); the events sent."""
        if self._scheduler is None:
            raise RuntimeError("the emulator is not started")
        return self._scheduler.fire_scheduled_rules()

    def fire_schedules(self) -> list[dict[str, Any]]:
        """Fire every enabled EventBridge Scheduler schedule now (one tick); the firings."""
        if self._schedules is None:
            raise RuntimeError("the emulator is not started")
        return self._schedules.fire_schedules()

    def evaluate_alarms(self) -> list[dict[str, Any]]:
        """Evaluate the watched alarms now (one evaluator tick); the state changes made."""
        return self.alarm_evaluator.evaluate()

    @property
    def deployment(self) -> Deployment | None:
        """The runbook stack's deployment, once ``deploy()`` ran."""
        return self.deployments.get(self.stack_name)

    @property
    def outputs(self) -> dict[str, str]:
        """The runbook stack's outputs (what describe_stacks reports)."""
        if self.deployment is None:
            raise RuntimeError(f"stack {self.stack_name} is not deployed yet")
        return dict(self.deployment.outputs)

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator (fake credentials, no retries to hide errors)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            config=Config(retries={"max_attempts": 1}),
        )
