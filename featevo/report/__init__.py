"""Stage 05: one self-contained HTML report and its Markdown twin, generated from stages 01-04.

Layout of ``outputs/<run>/05_report/`` (names in :class:`featevo.layout.ReportFiles`)::

    report.html        self-contained (figures as base64 data URIs, inline CSS, no scripts, no network)
    report.md          the same document in Markdown; it references figures/*.png
    figures/           every figure of the report: the stages' own (copied) and stage 05's (made here)
    findings.json      the findings as text and as the numbers they were generated from
    manifest.json

Every number in the report is read from a stage output and formatted by
:mod:`featevo.report.templates`; the findings are sentences generated from those numbers, so the
text cannot disagree with the data. A value that is missing or undefined is shown as an en dash
and the table says why. Stage 05 refuses to run unless stages 01-04 have finished with the same
config (:func:`featevo.io.require_stage`), and skips when its own manifest is current.

Modules:

    upstream      loads stages 01-04 through featevo.results (typed tables, JSON loaders)
    context       what every section gets: the upstream results, the output folder, the findings
    setup, sae_quality, twin, matching, deltas, labels, cards, provenance, findings
                  one section each: a function of the context that returns a Section
    stage         assembles the document, writes it, runs the stage
    templates     the document model and its HTML and Markdown renderers
    figures       the figures stage 05 makes itself
    chromium      headless Chromium (the browser test, the README screenshot)
"""

from featevo.report.stage import build_report, run
from featevo.report.upstream import Upstream, load_upstream

__all__ = ["Upstream", "build_report", "load_upstream", "run"]
