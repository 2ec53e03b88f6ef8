"""Reliability: bad input, interruption, resume, reproducibility and secrets, tried on the real scripts.

* Bad input: each user mistake ends in exit status 2 and exactly one stderr line ``error: ...``
  naming the file, key or stage, never a traceback (config-loader details: ``test_config.py``;
  SAE NaN and truncated SAE files: ``test_sae.py``; layer convention: ``test_activations.py``).
* Interruption: stage 01 on the tiny config is killed (SIGTERM, then SIGKILL) mid-run and rerun: no
  stage folder appears until it is complete, the rerun resumes, and the SAEs equal the
  uninterrupted ``tiny_stage01`` run bit for bit. A killed ``--force`` rerun keeps the old outputs.
* Resume: twin fine-tuning (``make_twin(stop_after=...)``) and commits cut between renames.
  SAE resume: ``test_sae.py``; stage 04's per-latent resume: ``test_interpret.py``.
* Reproducibility: same seed, same SAE weights and the same stage 02/03 tables; another seed differs;
  the manifest holds what a rerun needs.
* Security: no remote code, no pickle loading, API keys never written; the LLM server binds to
  127.0.0.1 only (``test_llm_server.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from featevo.llm_server import local_llm_available
import torch
import yaml
from conftest import tiny_config_dict, write_corpus
from safetensors.torch import load_file

from featevo.config import DataConfig, ModelConfig, config_from_dict, to_dict
from featevo.data import Doc, load_corpus, load_probe
from featevo.errors import DataError, StageError, TrainingError
from featevo.io import StageRun, load_manifest, read_json, require_stage, sha256_file, stage_is_current
from featevo.layout import MANIFEST, REPO_ROOT, run_dir, stage_dir

STAGE01 = "01_train_sae/train_sae.py"
FAKE_KEY = "sk-test-FAKE-1234567890"
ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "WANDB_MODE": "disabled", "TQDM_DISABLE": "1"}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _env(**extra) -> dict:
    env = {**os.environ, **ENV, **extra}
    env.pop("FORCE", None)
    return env


def write_conf(path: Path, model_dir: Path, files: dict, root: Path | None = None, **over) -> Path:
    d = tiny_config_dict(root or path.parent / "outputs", model_dir, files)
    for k, v in over.items():  # (tiny_config_dict's own merge cannot take a 'data' override)
        d[k] = {**d[k], **v} if isinstance(v, dict) and isinstance(d.get(k), dict) else v
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    return path


def run_script(rel: str, conf: Path, *args: str, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / rel), "--config", str(conf), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=_env(**env))


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, stderr exactly one line ``error: ...`` holding every needle, no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("error: ")
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def sae_tensors(cfg, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(stage_dir(cfg, "01_train_sae") / "saes" / name / "sae" / "sae_weights.safetensors"))


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# --------------------------------------------------------------------------------------------
# 1. bad input through the real scripts
# --------------------------------------------------------------------------------------------
@pytest.fixture
def conf_factory(tmp_path, tiny_model_dir, tiny_data):
    def make(name="c.yaml", **over) -> Path:
        return write_conf(tmp_path / name, tiny_model_dir, tiny_data, **over)
    return make


def test_mistyped_config_key_in_the_file(conf_factory):
    conf = conf_factory()
    conf.write_text(conf.read_text() + "sea:\n  k: 3\n")
    assert_user_error(run_script("02_compare_features/compare_features.py", conf), "c.yaml", "unknown key 'sea'")


def test_hub_model_offline_names_the_model_and_hints(conf_factory):
    conf = conf_factory(base_model={"name": "nonexistent-org/no-such-model"})
    line = assert_user_error(run_script(STAGE01, conf, HF_HUB_OFFLINE="1"), "'nonexistent-org/no-such-model'")
    assert "HF_HUB_OFFLINE" in line and "local folder" in line
    assert not (conf.parent / "outputs" / "tiny" / "01_twin").exists()


def test_layer_out_of_range_fails_before_the_twin_is_trained(conf_factory):
    conf = conf_factory(harvest={"layer": 7})
    assert_user_error(run_script(STAGE01, conf), "harvest.layer=7", "2 blocks", "valid: 0..1")
    assert not (conf.parent / "outputs" / "tiny" / ".01_twin.partial").exists()  # no fine-tuning started


def test_malformed_corpus_line_number(conf_factory, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Rates rose.", "category": "markets"}\n\n{"text": "oops, "category": "markets"}\n')
    conf = conf_factory(data={"corpus": str(bad)})
    assert_user_error(run_script(STAGE01, conf), f"{bad}:3: bad JSON line")


def test_empty_corpus(conf_factory, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    conf = conf_factory(data={"corpus": str(empty)})
    assert_user_error(run_script(STAGE01, conf), f"{empty}: no documents")


def test_truncated_model_weights(conf_factory, tiny_model_dir, tmp_path):
    broken = tmp_path / "broken_model"
    shutil.copytree(tiny_model_dir, broken)
    f = broken / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    conf = conf_factory(base_model={"name": str(broken)})
    assert_user_error(run_script(STAGE01, conf), str(broken), "corrupted or truncated safetensors")


@pytest.mark.parametrize("script", ["04_interpret/interpret.py", "05_report/report.py"])  # 02/03: test_stage02_03
def test_later_stage_before_stage01(conf_factory, script):
    conf = conf_factory()
    assert_user_error(run_script(script, conf), "01_train_sae", "has not finished",
                      f"run: python {STAGE01} --config")


def test_probe_missing_a_domain_or_categories(tmp_path):
    probe = write_corpus(tmp_path / "probe.jsonl", 6, 1)
    lines = probe.read_text().splitlines()
    only_fin = tmp_path / "fin_only.jsonl"
    only_fin.write_text("\n".join(x for x in lines if '"financial"' in x) + "\n")
    with pytest.raises(DataError, match=r"fin_only\.jsonl: no general categories in the probe set") as e:
        load_probe(DataConfig(probe=str(only_fin)))
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match=r"probe\.jsonl: categories with fewer than 7 sentences"):
        load_probe(DataConfig(probe=str(probe)), min_per_category=7)
    nocat = tmp_path / "nocat.jsonl"
    nocat.write_text(lines[0] + "\n" + json.dumps({"text": "A sentence without a category."}) + "\n")
    with pytest.raises(DataError, match=r"nocat\.jsonl:2: field 'category' must be a non-empty string"):
        load_probe(DataConfig(probe=str(nocat)))
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(json.dumps({"text": "Odd.", "category": "astrology"}) + "\n")
    with pytest.raises(DataError, match=r"unknown\.jsonl:1: category 'astrology' is in neither"):
        load_probe(DataConfig(probe=str(unknown)))


def test_nonfinite_activation_names_the_documents(tiny_model_dir):
    from featevo.activations import iter_layer_rows, tokenize_docs
    from featevo.models import load_model, load_tokenizer

    mcfg = ModelConfig(name=str(tiny_model_dir))
    model, tok = load_model(mcfg), load_tokenizer(mcfg)
    with torch.no_grad():  # a model whose layer output is NaN for any document with this token
        model.embeddings.word_embeddings.weight[tok.convert_tokens_to_ids("earnings")] = float("nan")
    texts = ["Rain is expected.", "Acme reported earnings today.", "The cat slept.", "Earnings fell sharply.",
             "The choir sang."]
    tokens = tokenize_docs(tok, [Doc(t, "markets", "target") for t in texts], 24, True)
    with pytest.raises(TrainingError, match=r"harvest base/train: non-finite activations \(NaN/inf\) at layer 1 "
                                            r"in documents 1, 3 \(0-based, .*docs\.jsonl") as e:
        list(iter_layer_rows(model, tokens, 1, 8, torch.device("cpu"), desc="harvest base/train", progress=False))
    assert "\n" not in str(e.value)


def test_twin_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_stage01, tmp_path, monkeypatch):
    import dataclasses

    from featevo import twin

    cfg = tiny_stage01
    real, calls = twin._masked_lm_loss, []

    def loss_nan_from_step_4(*a, **k):
        calls.append(1)
        loss = real(*a, **k)
        return loss * float("nan") if len(calls) > 4 else loss

    monkeypatch.setattr(twin, "_masked_lm_loss", loss_nan_from_step_4)
    train, evald = load_corpus(cfg.data, cfg.seed)
    base = ModelConfig(name=str(stage_dir(cfg, "01_twin") / "base"))  # has an MLM head: no head fit
    tcfg = dataclasses.replace(cfg.twin, checkpoint_every=3)
    with pytest.raises(TrainingError, match=r"fine-tune tuned twin: loss became nan at step 4; last good checkpoint "
                                            r"\(step 3\) kept in .*work_twin_tuned/checkpoint; lower twin.lr") as e:
        twin.make_twins(base, tcfg, train, evald, tmp_path / "twin", cfg.seed, torch.device("cpu"),
                        cfg.harvest.max_length)
    assert "\n" not in str(e.value)
    ck = tmp_path / "twin" / "work_twin_tuned" / "checkpoint"
    assert read_json(ck / "state.json")["step"] == 3
    assert all(torch.isfinite(t).all() for t in load_file(str(ck / "model.safetensors")).values())


def test_sae_nan_names_the_kept_checkpoint(tmp_path, monkeypatch):
    import dataclasses

    from test_sae import CFG, synthetic_store

    from featevo import sae as sae_mod

    real, calls = sae_mod.fused_trainer_step, []

    def nan_after_7(trainer, batch):
        calls.append(1)
        out = real(trainer, batch)
        return out._replace(loss=float("nan")) if len(calls) > 7 else out

    monkeypatch.setitem(sae_mod.TRAINER_STEPS, "fused", nan_after_7)
    store = synthetic_store(tmp_path / "acts")
    with pytest.raises(TrainingError, match=r"SAE x: loss became nan at step 7; last good checkpoint kept in "
                                            r".*w/checkpoint; lower sae.lr"):
        sae_mod.train_sae(store, dataclasses.replace(CFG, trainer="fused"), tmp_path / "w", 0, torch.device("cpu"),
                          "m", "h", desc="x")
    assert read_json(tmp_path / "w" / "checkpoint" / "done.json")["n_training_steps"] == 5


# --------------------------------------------------------------------------------------------
# 2-4. kill stage 01, resume, compare with the uninterrupted run
# --------------------------------------------------------------------------------------------
def _kill_when(args: list[str], log: Path, watch: Path, targets: list[str], sig: int,
               timeout: float = 400) -> tuple[int, str, str]:
    """Run ``args``; send ``sig`` as soon as one of ``watch/<target>`` exists. Returns (rc, target, stderr)."""
    with open(log, "w") as err:
        proc = subprocess.Popen(args, cwd=REPO_ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        hit, deadline = None, time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                hit = next((t for t in targets if (watch / t).exists()), None)
                if hit is not None:
                    proc.send_signal(sig)
                    break
                time.sleep(0.01)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert hit is not None, f"never saw {targets} under {watch}; rc={proc.returncode}\n{text[-3000:]}"
    return rc, hit, text


@pytest.fixture(scope="module")
def killed_run(tiny_stage01, tiny_model_dir, tiny_data, tmp_path_factory):
    """Stage 01 killed by SIGTERM, then by SIGKILL, then run to the end; same config as tiny_stage01
    except output_root. Returns (cfg, conf path, notes)."""
    d = tmp_path_factory.mktemp("killed")
    conf = write_conf(d / "tiny.yaml", tiny_model_dir, tiny_data, root=d / "outputs")
    cfg = config_from_dict(yaml.safe_load(conf.read_text()))
    cfg.config_path = str(conf)
    rdir = run_dir(cfg)
    final, partial = stage_dir(cfg, "01_train_sae"), rdir / ".01_train_sae.partial"
    args = [sys.executable, str(REPO_ROOT / STAGE01), "--config", str(conf)]
    notes: dict = {}
    t0 = time.time()

    # first run: SIGTERM while the base SAE trains (after its first checkpoint)
    rc, hit, err = _kill_when(args, d / "run1.err", partial,
                              ["saes/base/checkpoint", "saes/base/train_done.json"], signal.SIGTERM)
    notes["run1"] = (rc, hit, err)
    assert not final.exists() and partial.is_dir()

    # second run: SIGKILL while the tuned SAE trains
    rc, hit, err = _kill_when(args, d / "run2.err", partial,
                              ["saes/tuned/checkpoint", "saes/tuned/train_done.json", "saes/base_seed1"],
                              signal.SIGKILL)
    notes["run2"] = (rc, hit, err)
    assert not final.exists() and partial.is_dir()

    # third run: to the end
    done = subprocess.run(args, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    notes["run3"] = done.stderr
    notes["seconds"] = time.time() - t0
    return cfg, conf, notes


def test_sigterm_is_graceful(killed_run):
    _, _, notes = killed_run
    rc, _, err = notes["run1"]
    assert rc == 130, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == ("interrupted: stage 01_train_sae stopped by SIGTERM; partial outputs kept; "
                    "rerun the same command to resume")


def test_killed_runs_leave_no_stage_folder_and_resume(killed_run, tiny_stage01):
    cfg, _, notes = killed_run
    print(f"kill 1 (SIGTERM) at {notes['run1'][1]}, kill 2 (SIGKILL) at {notes['run2'][1]}; "
          f"three runs {notes['seconds']:.0f}s")
    assert notes["run2"][0] == -signal.SIGKILL
    assert "resuming from partial outputs" in notes["run2"][2]
    assert "resuming from partial outputs" in notes["run3"]
    if notes["run1"][1] == "saes/base/checkpoint":  # killed mid-training: continued, not restarted
        assert "base: resuming from checkpoint at step" in notes["run2"][2]
    if notes["run2"][1] == "saes/tuned/checkpoint":
        assert "tuned: resuming from checkpoint at step" in notes["run3"]
    man = require_stage(cfg, "01_train_sae")  # complete, every sha256 verified
    assert not (run_dir(cfg) / ".01_train_sae.partial").exists()
    assert not (run_dir(cfg) / ".01_train_sae.old").exists()
    # same bits as the uninterrupted run (same config, another output folder)
    for name in man["sae_seeds"]:
        assert_same_tensors(sae_tensors(cfg, name), sae_tensors(tiny_stage01, name))
        rel = f"saes/{name}/steps.csv"
        assert man["outputs"][rel] == load_manifest(tiny_stage01, "01_train_sae")["outputs"][rel]
    for sub in ("base", "tuned"):
        assert_same_tensors(load_file(str(stage_dir(cfg, "01_twin") / sub / "model.safetensors")),
                            load_file(str(stage_dir(tiny_stage01, "01_twin") / sub / "model.safetensors")))
    # the stage log holds the run's lines and the interruption
    log = (run_dir(cfg) / "logs" / "01_train_sae.log").read_text()
    assert "interrupted: stage 01_train_sae stopped by SIGTERM" in log and "stage 01_train_sae done" in log


def test_killed_force_rerun_keeps_the_old_outputs(killed_run, tmp_path):
    cfg, conf, _ = killed_run
    before = {st: sha256_file(stage_dir(cfg, st) / MANIFEST) for st in ("01_twin", "01_train_sae")}
    # --force reruns stage 01 itself (the twin stage before it is current and stays): kill it once it has
    # opened its partial folder
    rc, _, err = _kill_when([sys.executable, str(REPO_ROOT / STAGE01), "--config", str(conf), "--force"],
                            tmp_path / "force.err", run_dir(cfg), [".01_train_sae.partial/_partial_config.json"],
                            signal.SIGKILL)
    assert rc == -signal.SIGKILL, err[-2000:]
    for st, sha in before.items():
        assert sha256_file(stage_dir(cfg, st) / MANIFEST) == sha
        require_stage(cfg, st)
    shutil.rmtree(run_dir(cfg) / ".01_train_sae.partial", ignore_errors=True)  # a later --force would discard it


def test_manifest_records_what_a_rerun_needs(killed_run):
    cfg, conf, _ = killed_run
    man = load_manifest(cfg, "01_train_sae")
    assert man["full_config"] == to_dict(cfg)
    again = config_from_dict(man["full_config"])  # the manifest alone rebuilds the config ...
    again.config_path = str(conf)
    assert stage_is_current(again, "01_train_sae")  # ... and it matches these outputs
    assert man["seed"] == 0 and man["sae_seeds"] == {"base": 0, "base_seed1": 1, "tuned": 1000, "tuned_seed1": 1001,
                                                   "control": 2000, "control_seed1": 2001, "planted": 3000}
    assert man["twin_seed"] == 0
    assert {"python", "torch", "transformers", "safetensors", "sae-lens", "numpy"} <= set(man["versions"])
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", man["git_commit"] or ""), man["git_commit"]
    assert man["command"] == f"python {STAGE01} --config {conf}"
    corpus = next(k for k in man["inputs"]["files"] if k.endswith("corpus.jsonl"))
    assert man["inputs"]["files"][corpus] == sha256_file(Path(cfg.data.corpus))
    assert set(man["inputs"]["stages"]) == {"01_twin"}


def test_other_seed_gives_other_weights_same_seed_the_same(tiny_stage01, tmp_path):
    from featevo.activations import ActivationStore
    from featevo.models import resolve_device
    from featevo.sae import train_sae

    cfg = tiny_stage01
    store = ActivationStore(stage_dir(cfg, "01_train_sae") / "train" / "base")
    ref = sae_tensors(cfg, "base")
    for seed, same in ((0, True), (1, False)):
        res = train_sae(store, cfg.sae, tmp_path / f"s{seed}", seed, resolve_device("cpu"), "m", "h")
        got = load_file(str(res.sae_dir / "sae_weights.safetensors"))
        assert all(torch.equal(got[k], ref[k]) for k in ref) == same, seed


def test_stage02_03_tables_are_reproducible(killed_run, tiny_stage01):
    from featevo import compare, deltas

    cfg, _, _ = killed_run
    for c in (cfg, tiny_stage01):  # no-ops where already current (test_stage02_03 runs the fixture's)
        compare.run(c)
        deltas.run(c)
    for stage, table in (("02_compare_features", "pairs.csv"), ("03_activation_deltas", "feature_table.csv")):
        a = (stage_dir(cfg, stage) / table).read_bytes()
        assert a and a == (stage_dir(tiny_stage01, stage) / table).read_bytes(), table


def test_upstream_mismatch_and_corruption_through_the_script(killed_run, tmp_path):
    cfg, conf, _ = killed_run
    proc = run_script("02_compare_features/compare_features.py", conf, "--set", "sae.k=3")
    assert_user_error(proc, "01_train_sae was made with a different config (differs in: sae.k)",
                      f"rerun: python {STAGE01} --config {conf} --set sae.k=3 --force")  # the user's overrides
    # a damaged copy: truncated SAE weights are caught by the manifest's sha256
    d = to_dict(cfg)
    d["output_root"] = str(tmp_path / "outputs")
    other = config_from_dict(d)
    for st in ("01_twin", "01_train_sae"):
        shutil.copytree(stage_dir(cfg, st), stage_dir(other, st))
    f = stage_dir(other, "01_train_sae") / "saes" / "tuned" / "sae" / "sae_weights.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    conf2 = tmp_path / "c.yaml"
    conf2.write_text(yaml.safe_dump(d))
    assert_user_error(run_script("02_compare_features/compare_features.py", conf2),
                      "saes/tuned/sae/sae_weights.safetensors does not match its sha256", "--force")


# --------------------------------------------------------------------------------------------
# 3. resume of the twin; commits cut short; upstream fingerprints
# --------------------------------------------------------------------------------------------
def test_twin_resume_equals_uninterrupted(tiny_stage01, tmp_path):
    from featevo.twin import make_twins

    cfg = tiny_stage01
    train, evald = load_corpus(cfg.data, cfg.seed)
    out = tmp_path / "twin"
    args = (cfg.base_model, cfg.twin, train, evald, out, cfg.seed, torch.device("cpu"), cfg.harvest.max_length)
    with pytest.raises(KeyboardInterrupt):  # a crash after step 5 of the first twin; its last checkpoint is step 3
        make_twins(*args, stop_after=5)
    assert read_json(out / "work_twin_tuned" / "checkpoint" / "state.json")["step"] == 3
    make_twins(*args)
    ref = stage_dir(cfg, "01_twin")  # the uninterrupted run of the same config
    for sub in ("base", "tuned", "control", "planted"):
        assert_same_tensors(load_file(str(out / sub / "model.safetensors")),
                            load_file(str(ref / sub / "model.safetensors")))
    # every file byte-identical (report included): a --force rerun leaves later stages current
    mine = {p.relative_to(out).as_posix(): sha256_file(p) for p in out.rglob("*") if p.is_file()}
    assert mine == {k: v for k, v in load_manifest(cfg, "01_twin")["outputs"].items()}


def _fake_stage(cfg, stage: str, text: str, **kw) -> dict:
    st = StageRun(cfg, stage, extra={"note": kw.pop("note", "")}, **kw).open()
    (st.dir / "x.txt").write_text(text)
    return st.commit()


@pytest.mark.parametrize("cut_at", [1, 2, 3])  # before the manifest; after it; between the two renames
def test_commit_cut_short_is_resumed_or_finished(tiny_cfg, monkeypatch, cut_at):
    import featevo.io as fio

    stage = "02_compare_features"
    _fake_stage(tiny_cfg, stage, "old")
    real, calls = os.replace, []

    def killed(src, dst):
        calls.append(dst)
        if len(calls) == cut_at:
            raise KeyboardInterrupt
        return real(src, dst)

    st = StageRun(tiny_cfg, stage).open()
    (st.dir / "x.txt").write_text("new")
    monkeypatch.setattr(fio.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        st.commit()
    monkeypatch.setattr(fio.os, "replace", real)
    man = load_manifest(tiny_cfg, stage)  # what the next run sees
    text = (stage_dir(tiny_cfg, stage) / "x.txt").read_text()
    if cut_at == 1:  # manifest not written: the old outputs stay, the partial folder resumes
        assert text == "old" and man is not None
        assert StageRun(tiny_cfg, stage).open().dir.joinpath("x.txt").read_text() == "new"
    else:  # the new outputs were complete: the swap is finished
        assert text == "new"
        assert not (run_dir(tiny_cfg) / f".{stage}.partial").exists()
    assert not (run_dir(tiny_cfg) / f".{stage}.old").exists()
    require_stage(tiny_cfg, stage)


def test_identical_rerun_keeps_downstream_current(tiny_cfg):
    _fake_stage(tiny_cfg, "02_compare_features", "same")
    _fake_stage(tiny_cfg, "03_activation_deltas", "down")
    up = stage_dir(tiny_cfg, "02_compare_features") / MANIFEST
    first = sha256_file(up)
    _fake_stage(tiny_cfg, "02_compare_features", "same", note="rerun")  # --force, same bytes, new timings
    assert sha256_file(up) != first
    assert stage_is_current(tiny_cfg, "03_activation_deltas")
    require_stage(tiny_cfg, "03_activation_deltas")
    # manifests from before fingerprints (sha256 of the upstream manifest) are still accepted
    p = stage_dir(tiny_cfg, "03_activation_deltas") / MANIFEST
    man = json.loads(p.read_text())
    man["inputs"]["stages"]["02_compare_features"] = sha256_file(stage_dir(tiny_cfg, "02_compare_features") / MANIFEST)
    p.write_text(json.dumps(man))
    require_stage(tiny_cfg, "03_activation_deltas")
    _fake_stage(tiny_cfg, "02_compare_features", "changed")
    assert not stage_is_current(tiny_cfg, "03_activation_deltas")
    with pytest.raises(StageError, match=r"03_activation_deltas is stale: its input stage 02_compare_features "
                                         r"has changed since; rerun: python 03_activation_deltas"):
        require_stage(tiny_cfg, "03_activation_deltas")


# --------------------------------------------------------------------------------------------
# 5. security
# --------------------------------------------------------------------------------------------
def _python_files() -> list[Path]:
    files = []
    for top in ["featevo", "tests", "benchmarks", *sorted(p.name for p in REPO_ROOT.glob("0*_*"))]:
        files += sorted((REPO_ROOT / top).rglob("*.py"))
    assert len(files) > 20
    return files


def test_no_remote_code_no_pickle():
    remote = re.compile(r"trust_remote_code\s*[=:]\s*True|['\"]trust_remote_code['\"]\s*:\s*True")
    pickle_load = re.compile(r"\bpickle\.loads?\(|\bimport (c?pickle|dill|joblib)\b|\bjoblib\.load\(|"
                             r"\bdill\.loads?\(|allow_pickle\s*=\s*True|read_pickle\(|pickle\.Unpickler")
    torch_load = re.compile(r"torch\.load\(((?:[^()]|\([^()]*\))*)\)")
    bad = []
    for f in _python_files():
        text = f.read_text(encoding="utf-8")
        rel = f.relative_to(REPO_ROOT)
        bad += [f"{rel}: {m.group(0)}" for m in remote.finditer(text)]
        bad += [f"{rel}: {m.group(0)}" for m in pickle_load.finditer(text)]
        bad += [f"{rel}: {m.group(0)}" for m in torch_load.finditer(text) if "weights_only=True" not in m.group(1)]
    assert not bad, bad


def test_models_load_with_trust_remote_code_false():
    from featevo.models import ModelSource, _load_kwargs

    for src in (ModelSource("x", "x", True, None), ModelSource("o/m", "o/m", False, "main")):
        assert _load_kwargs(src)["trust_remote_code"] is False


def test_api_key_is_used_but_never_in_the_config(monkeypatch):
    from featevo.config import InterpretConfig
    from featevo.interpret import make_client

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    icfg = InterpretConfig(backend="openai", base_url="http://127.0.0.1:9/v1", model="m")
    client = make_client(icfg, icfg.base_url, "m")
    assert client.headers["Authorization"] == f"Bearer {FAKE_KEY}"  # sent to the endpoint ...
    assert FAKE_KEY not in json.dumps(to_dict(icfg))  # ... but the config only names the variable


@pytest.mark.llm
@pytest.mark.skipif(not local_llm_available(), reason="SmolLM2 GGUF or llama-cpp-python[server] not installed")
def test_sigterm_during_stage04_stops_the_llm_server(killed_run, tmp_path):
    from featevo import compare, deltas
    from featevo.llm_server import port_in_use

    cfg, conf, _ = killed_run
    compare.run(cfg)
    deltas.run(cfg)
    log = run_dir(cfg) / "logs" / "04_llm_server.log"
    log.unlink(missing_ok=True)
    with open(tmp_path / "stage04.err", "w") as err:
        proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "04_interpret/interpret.py"), "--config", str(conf)],
                                cwd=REPO_ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        try:
            port, deadline = None, time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:  # until the server listens
                m = re.search(r"--port (\d+)", log.read_text(errors="replace")) if log.is_file() else None
                if m and port_in_use(int(m.group(1))):
                    port = int(m.group(1))
                    break
                time.sleep(0.05)
            assert port is not None, (tmp_path / "stage04.err").read_text()[-3000:]
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = (tmp_path / "stage04.err").read_text()
    assert rc == 130 and "Traceback" not in text, text[-3000:]
    assert text.strip().splitlines()[-1].startswith("interrupted: stage 04_interpret stopped by SIGTERM")
    assert not port_in_use(port)  # the server was stopped before the stage exited
    assert not stage_dir(cfg, "04_interpret").exists()


@pytest.mark.llm
@pytest.mark.skipif(not local_llm_available(), reason="SmolLM2 GGUF or llama-cpp-python[server] not installed")
def test_api_key_never_written_by_stage04(killed_run, tmp_path):
    from featevo import compare, deltas
    from featevo.llm_server import LocalLLMServer

    cfg, conf, _ = killed_run
    compare.run(cfg)
    deltas.run(cfg)
    srv_log = tmp_path / "llm_server.log"
    with LocalLLMServer(n_ctx=4096, log_path=srv_log) as srv:
        proc = run_script("04_interpret/interpret.py", conf, "--set", "interpret.backend=openai",
                          "--set", f"interpret.base_url={srv.base_url}", "--set", f"interpret.model={srv.model_name}",
                          "--set", "interpret.latents=1", "--set", "interpret.n_test=2",
                          "--set", "interpret.n_non_activating=2", "--set", "interpret.n_examples_shown=2",
                          timeout=600, OPENAI_API_KEY=FAKE_KEY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    man = load_manifest(cfg, "04_interpret")
    assert man["config"]["interpret"]["backend"] == "openai"
    assert man["full_config"]["interpret"]["api_key_env"] == "OPENAI_API_KEY"
    assert FAKE_KEY not in json.dumps(man)
    assert FAKE_KEY not in proc.stdout + proc.stderr
    checked = 0
    for f in [*Path(cfg.output_root).rglob("*"), srv_log]:
        if f.is_file():
            assert FAKE_KEY.encode() not in f.read_bytes(), f
            checked += 1
    assert checked > 20 and (run_dir(cfg) / "logs" / "04_interpret.log").is_file()
