"""Documentation generated from :mod:`featevo.layout`: docs/pipeline.md's stage table (from the registry) and
outputs/README.md's file listing (from the file-name constants).

``python -m featevo.layout`` prints the table, ``python -m featevo.layout --outputs`` the listing;
``tests/test_layout.py`` and ``tests/test_outputs_readme.py`` check that the READMEs hold exactly these.
"""

from __future__ import annotations

import re

from featevo.layout import LOGS_DIR, MANIFEST, STAGES, output_files, stage_spec


def stage_table_markdown() -> str:
    """docs/pipeline.md's stage table, generated from the registry (``python -m featevo.layout`` prints it)."""
    lines = ["| stage folder | script | make target | reads stages | config keys | what it writes |",
             "|---|---|---|---|---|---|"]
    for s in STAGES:
        when = f" (only with `{s.enabled_by}: true`)" if s.enabled_by else ""
        ups = ", ".join(f"`{u}`" + (" (optional)" if u in s.optional else "") for u in s.upstream) or "-"
        keys = ", ".join(f"`{k}`" for k in s.reads)
        lines.append(f"| `{s.id}/` | `{s.script}` | `make {s.make_target}` | {ups} | {keys} | {s.summary}{when} |")
    return "\n".join(lines)


def _pattern_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "<":
            j = pattern.index(">", i)
            out.append(r"[^/]+")
            i = j + 1
            continue
        if c == "{":
            j = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1:j].split(",")) + ")")
            i = j + 1
            continue
        out.append(re.escape(c))
        i += 1
    return "".join(out)


def listed_output(rel: str) -> bool:
    """True when ``rel`` (a path under ``outputs/<run>/``, with ``/``) matches :func:`output_files` (or is a
    stage's manifest)."""
    folder, _, rest = rel.partition("/")
    pats = output_files().get(folder)
    if pats is None or not rest:
        return False
    if rest == MANIFEST and folder != LOGS_DIR:
        return True
    return any(re.fullmatch(_pattern_regex(p), rest) for p, _ in pats)


def outputs_listing_markdown() -> str:
    """outputs/README.md's file listing (``python -m featevo.layout --outputs`` prints it)."""
    lines = ["Every stage folder also holds `manifest.json` (config, input hashes, output sha256s, versions, git "
             "commit, seed, device, wall time), written last.", ""]
    for folder, pats in output_files().items():
        title = f"`{folder}/`" + (f" ({stage_spec(folder).summary})" if folder in {s.id for s in STAGES} else "")
        lines += [f"**{title}**", "", "| file | what it holds |", "|---|---|"]
        lines += [f"| `{p}` | {what} |" for p, what in pats]
        lines.append("")
    return "\n".join(lines).rstrip()
