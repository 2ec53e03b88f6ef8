"""Stage 02: match the latents of the base and tuned SAEs and classify them (shared / shifted /
new / lost / split / dead), with a seed-noise null baseline and the transfer fidelity.

    python 02_compare_features/compare_features.py --config configs/demo.yaml [--force]

Needs stage 01 (01_train_sae/train_sae.py). Outputs: outputs/<run>/02_compare_features/
(see featevo/compare.py for the definitions and the file list).
"""

import sys

from featevo.cli import run_stage
from featevo.layout import COMPARE
from featevo.compare import run


def main(argv=None) -> int:
    return run_stage(run, COMPARE, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
