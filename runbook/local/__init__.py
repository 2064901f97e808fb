"""The embedded local emulator (``python -m runbook local up --port P``).

Importing this package is cheap; moto and the emulator load when ``run_local_up`` runs.
The programmatic API is ``runbook.local.emulator.LocalEmulator``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.local.emulator import LocalEmulator

DEFAULT_WORKDIR = Path(__file__).resolve().parents[2] / ".runbook" / "local"


def _print_banner(emulator: LocalEmulator) -> None:
    url = emulator.endpoint_url
    outputs = emulator.outputs
    width = max(len(key) for key in outputs) if outputs else 0
    lines = [
        f"Incident Runbook emulator: {url}  (workdir {emulator.workdir})",
        f"Stack {emulator.stack_name} outputs:",
        *(f"  {key.ljust(width)}  {value}" for key, value in sorted(outputs.items())),
        "",
        "Talk to it like AWS (any credentials work):",
        f"  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing "
        f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={emulator.region}",
        "  aws cloudwatch put-metric-alarm --alarm-name orders-api-errors \\",
        "      --namespace AWS/Lambda --metric-name Errors \\",
        "      --dimensions Name=FunctionName,Value=orders-api \\",
        "      --statistic Sum --period 60 --evaluation-periods 1 --threshold 1 \\",
        "      --comparison-operator GreaterThanOrEqualToThreshold",
        "  aws cloudwatch set-alarm-state --alarm-name orders-api-errors --state-value ALARM \\",
        "      --state-reason 'Errors >= 1'",
        f"  python -m runbook list --endpoint-url {url}",
        f"Logs: {emulator.log_dir} (lambda.log, events.log, requests.log). Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)


def run_local_up(port: int, workdir: Path | None = None) -> int:
    """Start the emulator, deploy the stack, print how to use it, block until SIGINT/SIGTERM."""
    from botocore.exceptions import BotoCoreError, ClientError

    from runbook.local.deploy import DeployError
    from runbook.local.emulator import LocalEmulator
    from runbook.local.server import PortInUseError
    from runbook.local.synth import SynthError

    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("emulator: %(levelname)s %(message)s"))
    local_logger = logging.getLogger("runbook.local")
    local_logger.addHandler(console)
    local_logger.setLevel(logging.INFO)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = LocalEmulator(port=port, workdir=workdir or DEFAULT_WORKDIR)
    try:
        print(f"Starting moto on 127.0.0.1:{port} ...", flush=True)
        emulator.start()
        print("Synthesising the CDK app and deploying the stack ...", flush=True)
        emulator.deploy()
        _print_banner(emulator)
        while not stop.wait(timeout=0.5):
            pass
        print("\nStopping the emulator ...", flush=True)
        return 0
    except (PortInUseError, SynthError, DeployError, BotoCoreError, ClientError) as err:
        print(f"runbook local up: {err}", file=sys.stderr)
        return 1
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        local_logger.removeHandler(console)
