"""Stage 05: the report. One self-contained HTML file and its Markdown twin, generated from stages 01-04.

    python 05_report/report.py --config configs/demo.yaml [--force]

Needs stages 01-04 to have finished with the same config (it names the stage to run if not) and
skips when its outputs are current. Outputs: outputs/<run>/05_report/report.html, report.md,
figures/, findings.json (see featevo/report/); exports/ of `python -m featevo.export` is kept across a rerun
while the stages it was computed from are unchanged.
"""

import sys

from featevo.cli import run_stage
from featevo.layout import REPORT
from featevo.report import run


def main(argv=None) -> int:
    return run_stage(run, REPORT, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
