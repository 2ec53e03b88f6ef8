"""Stage 03: activations of the matched latents on the probe set, per category, with bootstrap
CIs, permutation tests and Benjamini-Hochberg; the study's tables and figure in corrected form,
and the top-activating contexts for stages 04 and 05.

    python 03_activation_deltas/activation_deltas.py --config configs/demo.yaml [--force]

Needs stages 01 and 02. Outputs: outputs/<run>/03_activation_deltas/ (see featevo/deltas.py for
the definitions and the file list).
"""

import sys

from featevo.cli import run_stage
from featevo.layout import DELTAS
from featevo.deltas import run


def main(argv=None) -> int:
    return run_stage(run, DELTAS, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
