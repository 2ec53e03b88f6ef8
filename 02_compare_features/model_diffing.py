"""Stage 02 (model diffing): lenses that keep feature identity, each against its null.

    python 02_compare_features/model_diffing.py --config configs/demo.yaml [--force]

Stage-wise diffing continues training the base SAE on the tuned model's activations of the same tokens
(latent i stays latent i), against the same continued training on the base model's activations; BatchTopK
crosscoders read both models at once and give each latent a decoder per model. The planted twin is each
lens's positive control. Needs stage 01. Outputs: outputs/<run>/02_model_diffing/ (featevo/diffing.py).
"""

import sys

from featevo.cli import run_stage
from featevo.diffing import run
from featevo.layout import DIFFING


def main(argv=None) -> int:
    return run_stage(run, DIFFING, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
