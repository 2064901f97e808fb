"""Operator CLI and local emulator for Incident Runbook (never deployed).

The Lambda asset root, functions/, holds the logic the CLI shares with the deployed steps
(incident ids, the recovery token protocol); it is put on sys.path here so that both import
it the same way Lambda does.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

STACK_NAME = "IncidentRunbook"
