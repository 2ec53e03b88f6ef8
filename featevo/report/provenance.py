"""Section 8, provenance: every stage's manifest in one table, and the commands that reproduce the run."""

from __future__ import annotations

from featevo.layout import MANIFEST, REPORT, TWIN, stage_command
from featevo.report.common import code, num, source, when
from featevo.report.context import ReportContext
from featevo.report.templates import Bullets, Para, Section, Table, fint, fnum
from featevo.report.upstream import UPSTREAM


def manifests_table(ctx: ReportContext) -> Table:
    rows = []
    for st in (TWIN, *UPSTREAM):
        m = ctx.up.manifests.get(st)
        if not m:
            continue
        rows.append([code(st), when(m), num(fnum(m.get("wall_time_s"), 1)), code(m.get("device")),
                     code(m.get("git_commit")), code((m.get("config_hash") or "")[:12] or None),
                     num(fint(len(m.get("outputs") or {})))])
    return Table("tbl-provenance", ["stage", "started", "wall time (s)", "device", "git commit", "config hash",
                                    "output files"], rows, caption="Stage manifests",
                 source=source("<stage>", MANIFEST),
                 notes=[f"Each stage folder's {MANIFEST} holds the resolved config, input hashes, the sha256 "
                        "of every output, package versions, seed and device."])


def provenance_section(ctx: ReportContext) -> Section:
    sec = Section("provenance", "Provenance")
    sec.add(manifests_table(ctx))
    cmds = []
    for st in (*UPSTREAM, REPORT):
        m = ctx.up.manifests.get(st) or {}
        cmd = m.get("command") or stage_command(ctx.cfg, st)
        if cmd and cmd not in cmds:
            cmds.append(cmd)
    sec.add(Para("To reproduce, run the stages in order (each skips when its outputs are current; `--force` "
                 "reruns it):"), Bullets([f"`{c}`" for c in cmds]))
    return sec
