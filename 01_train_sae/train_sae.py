"""Stage 01: harvest layer activations of the base and tuned models and train one TopK SAE each.

    python 01_train_sae/train_sae.py --config configs/demo.yaml [--force] [--set sae.k=16]

With ``twin.enabled`` (demo) it first makes the domain-tuned twin (make_twin.py) if needed.
Outputs: outputs/<run>/01_train_sae/ (see featevo/train.py for the layout).
"""

import sys

from featevo.cli import run_stage
from featevo.layout import TRAIN
from featevo.train import run


def main(argv=None) -> int:
    return run_stage(run, TRAIN, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
