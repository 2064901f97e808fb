"""`runbook replay`: what the current configuration would have done with a real alarm history.

CloudWatch alarm state history (read from the account or from a saved file) is replayed in
time order, time-compressed, through the real stack on the local emulator, and what it did is
counted from the emulator itself: incidents opened, pages per severity and topic (SNS
deliveries), escalations, storms folded, reopenings (docs/replay.md).

history.py reads and normalises the history, account.py reads it from CloudWatch,
configuration.py turns the settings into the emulator's, clock.py keeps the replay's clock,
player.py drives the emulator, report.py counts and prints, command.py wires the CLI.
"""

from __future__ import annotations

from runbook.errors import CliError


class ReplayError(CliError):
    """A replay cannot run as asked: bad history, settings or options (one line, names what)."""
