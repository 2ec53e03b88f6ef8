"""The stage scripts' command line: readable help, --print-config, --set errors blamed on --set, rerun hints that
repeat the --set overrides, and the Makefile's offline flags (demo config only; always for the tests)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest
import yaml

from featevo.config import load_config, to_dict
from featevo.layout import REPO_ROOT, stage_command

SCRIPT = REPO_ROOT / "02_compare_features" / "compare_features.py"


def _main():
    spec = importlib.util.spec_from_file_location("compare_features_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main, mod.__doc__


def test_help_is_plain_first_paragraph(capsys):
    main, doc = _main()
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    first = doc.strip().split("\n\n")[0]
    assert first.splitlines()[0] in out and first.splitlines()[1] in out  # line breaks kept (raw description)
    assert "``" not in out and ":func:" not in out
    assert "python 02_compare_features" not in out  # only the first paragraph
    assert "--print-config" in out


def test_help_description_strips_rest():
    from featevo.cli import help_description

    assert help_description("Reads ``a.b`` via :func:`featevo.x` and `c`.\n\nMore.") == "Reads a.b via featevo.x and c."


def test_print_config_shows_overrides_and_docs(capsys):
    main, _ = _main()
    assert main(["--config", "configs/demo.yaml", "--set", "sae.k=7", "--print-config"]) == 0
    out = capsys.readouterr().out
    want = to_dict(load_config(REPO_ROOT / "configs/demo.yaml", ["sae.k=7"]))
    want.pop("config_path")
    assert yaml.safe_load(out) == want
    lines = out.splitlines()
    k = lines.index("  k: 7")
    assert lines[k - 1] == "  # Active latents per token (TopK)."
    assert "# Outputs go to <output_root>/<run_name>/." in out or "# Outputs go to" in out


def test_unknown_set_key_is_blamed_on_set(capsys, tmp_path):
    main, _ = _main()
    assert main(["--config", "configs/demo.yaml", "--set", "sae.nope=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --set 'sae.nope=1': unknown key 'sae.nope' (known keys here:"), err
    assert "demo.yaml" not in err
    assert main(["--config", "configs/demo.yaml", "--set", "sae.k.x=1"]) == 2
    assert "'sae.k' is a value, not a section" in capsys.readouterr().err
    assert main(["--config", "configs/demo.yaml", "--set", "twin.planted.stocks=lanterns", "--print-config"]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO_ROOT / "configs/demo.yaml").read_text() + "\nnope_section: 1\n", encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: unknown key 'nope_section'"), err


def test_rerun_hint_repeats_set_overrides(capsys, tmp_path):
    cfg = load_config(REPO_ROOT / "configs/demo.yaml", ["sae.k=7", "run_name=my run"])
    assert stage_command(cfg, "02_compare_features") == ("python 02_compare_features/compare_features.py --config "
                                                         "configs/demo.yaml --set sae.k=7 --set 'run_name=my run'")
    main, _ = _main()
    out_root = tmp_path / "outputs"
    assert main(["--config", "configs/demo.yaml", "--set", f"output_root={out_root}", "--set", "sae.k=7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "has not finished; run: python 01_train_sae/" in err, err
    assert err.endswith(f"--config configs/demo.yaml --set output_root={out_root} --set sae.k=7"), err


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_makefile_offline_flags_only_for_demo():
    def dry(*args):
        out = subprocess.run(["make", "-n", "-s", *args, "VENV=/nonexistent-venv"], cwd=REPO_ROOT, text=True,
                             capture_output=True, timeout=60, check=True).stdout
        return [line for line in out.splitlines()
                if "/nonexistent-venv/bin/python " in line and not line.startswith("test -x") and "pip" not in line]

    demo = dry("stage05")
    assert demo and all("HF_HUB_OFFLINE=1" in line for line in demo)
    other = dry("stage05", "CONFIG=configs/bert_finbert.yaml")
    assert other and not any("HF_HUB_OFFLINE" in line for line in other)
    tests = [line for line in dry("test") if "pytest" in line]
    assert tests and all("HF_HUB_OFFLINE=1" in line for line in tests)
    tests_other = [line for line in dry("test", "CONFIG=configs/bert_finbert.yaml") if "pytest" in line]
    assert tests_other and all("HF_HUB_OFFLINE=1" in line for line in tests_other)


def test_wandb_project_and_mode_from_config(monkeypatch):
    import sys
    import types

    from featevo.layout import STAGES
    from featevo.sae import _wandb_run

    calls = []
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=lambda **kw: calls.append(kw) or "run"))
    cfg = load_config(REPO_ROOT / "configs/demo.yaml", ["wandb.project=fin-sae", "wandb.mode=disabled"])
    assert _wandb_run(cfg.sae, "tuned", cfg.wandb) == "run"
    assert calls[0]["project"] == "fin-sae" and calls[0]["mode"] == "disabled" and calls[0]["name"] == "tuned"
    assert not any(k == "wandb" or k.startswith("wandb.") for s in STAGES for k in s.reads)  # logging only


def test_config_docs_read_both_config_modules():
    """--print-config documents the sections moved to featevo/config_sections.py (re-exported by featevo.config)
    as well as those left in featevo/config.py."""
    import dataclasses

    from featevo import config, config_sections
    from featevo.cli import field_docs

    docs = field_docs()
    moved = [v for v in vars(config_sections).values() if dataclasses.is_dataclass(v) and
             v.__module__ == "featevo.config_sections"]
    assert {c.__name__ for c in moved} >= {"SAEConfig", "HarvestConfig", "TwinConfig", "DeltasConfig"}
    for cls in moved:
        assert getattr(config, cls.__name__) is cls  # from featevo.config import X still works
        assert docs[cls.__name__], cls.__name__
    assert docs["SAEConfig"]["k"] == "Active latents per token (TopK)."
    assert docs["InterpretConfig"]["backend"].startswith("``local``")
