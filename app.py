#!/usr/bin/env python3
"""CDK entry point: ``cdk synth``/``cdk deploy`` run it, and so can ``python app.py``.

Run directly, set CDK_OUTDIR for the output directory and CDK_CONTEXT_JSON for context; cdk.json's
context fills whatever CDK_CONTEXT_JSON leaves out (see stacks/application.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python /path/to/app.py` from any directory: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stacks.application import build_app


def main() -> None:
    app, _stack = build_app()
    app.synth()


if __name__ == "__main__":
    main()
