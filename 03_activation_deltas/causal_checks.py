"""Stage 03 (causal checks): switch the flagged latents off, or back to their base values, inside the tuned
model and measure what it loses, against random latents of the same firing frequency.

    python 03_activation_deltas/causal_checks.py --config configs/demo.yaml [--force]

Needs stages 01, 02 (model diffing) and 03 (activation deltas). Outputs: outputs/<run>/03_causal/
(featevo/causal.py).
"""

import sys

from featevo.causal import run
from featevo.cli import run_stage
from featevo.layout import CAUSAL


def main(argv=None) -> int:
    return run_stage(run, CAUSAL, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
