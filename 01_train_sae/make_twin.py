"""Stage 01 (demo only): make the domain-tuned twin by continued masked-LM pretraining on financial text.

    python 01_train_sae/make_twin.py --config configs/demo.yaml [--force]

Writes outputs/<run>/01_twin/{base,tuned}/ (save_pretrained folders) and twin_report.json with the
per-block parameter drift and the token accounting of the windows it trained on. The probe set is not read
here: stage 03 measures every model's MLM loss on it (03_activation_deltas/twin_eval.json).
train_sae.py calls this automatically; for the study config (ProsusAI/finbert) it is skipped.
"""

import sys

from featevo.cli import run_stage
from featevo.layout import TWIN
from featevo.train import run_twin


def main(argv=None) -> int:
    return run_stage(run_twin, TWIN, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
