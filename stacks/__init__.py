"""CDK infrastructure of the Incident Runbook: one stack composed of small constructs.

Some constructs read data the functions own (the remediation catalogue and the response
file's `remediation` section validation live in functions/remediation/, one source of truth
for synth and run time), so the Lambda asset root is importable at synth as it is in Lambda.
It is appended, not prepended: nothing installed is shadowed.
"""

import sys
from pathlib import Path

_FUNCTIONS = str(Path(__file__).resolve().parent.parent / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.append(_FUNCTIONS)
