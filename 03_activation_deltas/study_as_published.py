"""Stage 03 (the study as published): the study's procedure on this run's SAEs and probe set, beside chance, seed
and control baselines, one correction at a time.

    python 03_activation_deltas/study_as_published.py --config configs/demo.yaml [--force]

Needs stages 01, 02 and 03 (activation deltas). Outputs: outputs/<run>/03_study/ (featevo/study_stage.py).
"""

import sys

from featevo.cli import run_stage
from featevo.layout import STUDY
from featevo.study_stage import run


def main(argv=None) -> int:
    return run_stage(run, STUDY, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
