"""The demo's twins: continued masked-LM pretraining of the base, per domain, with the same recipe.

FinBERT was made by further pretraining BERT on financial text and then fine-tuning it on
financial sentiment. The demo reproduces the first step for real on the shipped corpus, three times:

1. If the base checkpoint has no masked-LM head (all-MiniLM-L6-v2 ships a bare ``BertModel``), a
   head is fitted on the frozen base until its held-out loss stops improving (the curve is in the
   report). The encoder weights are left bit-for-bit unchanged (checked), so "base" still means the
   published weights. Every twin starts from this base and head.
2. ``tuned``: continued MLM training (80/10/10 masking) on the financial documents of the training
   split, seeded, with checkpoints and resume.
3. ``control`` (``twin.control``): the same recipe on the general documents. A change the financial
   twin shows and the control twin does not is specific to financial text, not to fine-tuning.
4. ``planted`` (``twin.planted``): the same recipe on the financial documents with a few words
   replaced (``shares`` -> ``lanterns`` ...): a known concept that the diffing methods must find in
   the planted-vs-tuned contrast (positive control). The plant itself is :mod:`featevo.planting`.

Documents longer than ``harvest.max_length`` are cut into stage 01's windows
(:class:`featevo.activations.Windowing`, :func:`featevo.activations.tokenize_windows`), not truncated; each twin's
token accounting is in the report.

The twin report (``01_twin``) lists each twin's parameter drift per block. The masked-LM loss of every model
on held-out templates (the probe set) with one shared seeded mask, plus the planted-word loss
(:func:`probe_eval`), is measured by stage ``03_activation_deltas``, which reads the probe: swapping the probe
set reruns the stages that read it, never the twins or the SAEs.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_model as st_load_model
from safetensors.torch import save_model as st_save_model
from torch import nn
from featevo.progress import tqdm

from featevo.activations import Windowing
from featevo.config import ModelConfig, TwinConfig
from featevo.data import TARGET, REFERENCE, Doc
from featevo.errors import StageError, TrainingError
from featevo.fidelity import mask_tokens, model_loss
from featevo.io import atomic_path, atomic_write_json, read_json
from featevo.layout import TwinFiles, display_path
from featevo.models import head_kind, load_model, load_tokenizer
from featevo.planting import planted_docs, planted_positions
from featevo.sae import seed_everything

logger = logging.getLogger(__name__)


def bert_mlm_mask(ids: torch.Tensor, special: torch.Tensor, attn: torch.Tensor, tokenizer, prob: float, g):
    """BERT's 80/10/10 masking with generator ``g``; returns (inputs, labels)."""
    cand = attn.bool() & ~special
    chosen = (torch.rand(ids.shape, generator=g) < prob) & cand
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=g)
    inputs = ids.clone()
    inputs[chosen & (r < 0.8)] = tokenizer.mask_token_id
    rand_pos = chosen & (r >= 0.8) & (r < 0.9)
    inputs[rand_pos] = torch.randint(len(tokenizer), ids.shape, generator=g)[rand_pos]
    return inputs, labels


@torch.no_grad()
def mlm_eval_loss(model: nn.Module, tokenizer, docs: list[Doc], device, window: int | Windowing, seed: int,
                  bs: int = 64) -> float:
    """Mean masked-LM cross-entropy on ``docs`` with a fixed seeded masking (comparable across models)."""
    if not docs:
        return float("nan")
    model.eval()
    t, _ = Windowing.of(window).tokens(tokenizer, docs)
    ids, labels = mask_tokens(t["input_ids"].long(), t["keep_mask"], tokenizer.mask_token_id, 0.15, seed)
    total, count = 0.0, 0
    for s in range(0, ids.shape[0], bs):
        w = max(int(t["attention_mask"][s : s + bs].sum(1).max()), 1)
        loss, n, _ = model_loss(
            model, "mlm", ids[s : s + bs, :w].to(device), t["attention_mask"][s : s + bs, :w].long().to(device),
            labels[s : s + bs, :w].to(device),
        )
        total, count = total + loss, count + n
    return total / max(count, 1)


def param_drift(base: nn.Module, tuned: nn.Module) -> dict:
    """L2 norm of the weight change, absolute and relative, grouped by block / embeddings / head."""
    tp = dict(tuned.named_parameters())
    groups: dict[str, list[float]] = {}
    for name, p0 in base.named_parameters():
        p1 = tp[name]
        parts = name.split(".")
        if "layer" in parts and parts.index("layer") + 1 < len(parts) and parts[parts.index("layer") + 1].isdigit():
            key = f"layer_{parts[parts.index('layer') + 1]}"
        elif "embeddings" in parts:
            key = "embeddings"
        else:
            key = "head"
        d2 = (p1.detach().float() - p0.detach().float()).pow(2).sum().item()
        n2 = p0.detach().float().pow(2).sum().item()
        acc = groups.setdefault(key, [0.0, 0.0])
        acc[0] += d2
        acc[1] += n2
    return {k: {"l2": math.sqrt(v[0]), "relative": math.sqrt(v[0]) / max(math.sqrt(v[1]), 1e-12)}
            for k, v in groups.items()}


def _lr_at(step: int, total: int, peak: float) -> float:
    warm = max(1, total // 10)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * max(0.0, (total - step) / max(1, total - warm))


def _masked_lm_loss(model, inputs, attn, labels, body_grad: bool) -> torch.Tensor:
    """MLM cross-entropy computing the vocabulary head only at the masked positions (about 7x
    cheaper than the full head on every token; the same loss as ``model(..., labels=labels)``)."""
    if not hasattr(model, "cls"):  # non-BERT heads: the plain (full-vocabulary) path
        return model(input_ids=inputs, attention_mask=attn, labels=labels).loss
    with torch.set_grad_enabled(body_grad and torch.is_grad_enabled()):
        hidden = model.base_model(input_ids=inputs, attention_mask=attn).last_hidden_state
    sel = labels != -100
    if not sel.any():
        return model.cls(hidden[:1, 0]).sum() * 0.0
    return torch.nn.functional.cross_entropy(model.cls(hidden[sel]).float(), labels[sel])


def _train_loop(model, tokenizer, docs, cfg: TwinConfig, steps: int, lr: float, params, work: Path, seed: int,
                window: int | Windowing, device, desc: str, stop_after: int | None = None,
                body_grad: bool = True) -> list[dict]:
    """Seeded MLM training on the windows of ``docs`` with resumable checkpoints in ``work``; returns the loss
    log. A token repeated as left context of an overlapping window is never a masking target twice."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    t, _ = Windowing.of(window).tokens(tokenizer, docs)
    special = t["attention_mask"] & ~t["keep_mask"]
    start, log = 0, []
    ck = work / "checkpoint"
    if (ck / "state.json").is_file():
        state = read_json(ck / "state.json")
        try:
            st_load_model(model, str(ck / "model.safetensors"), strict=False)
            opt.load_state_dict(torch.load(ck / "optimizer.pt", weights_only=True))
        except Exception as e:  # truncated/corrupted file (written atomically, so only by outside damage)
            raise StageError(f"{display_path(ck)}: cannot read the twin checkpoint ({str(e)[:200]}); delete "
                             f"that folder to restart the fine-tuning") from None
        start, log = state["step"], state["log"]
        logger.info("%s: resuming at step %d/%d", desc, start, steps)
    n = t["input_ids"].shape[0]
    per_epoch = max(1, n // cfg.batch_size)
    model.train()
    pbar = tqdm(total=steps, initial=start, desc=desc, unit="step")
    for step in range(start, steps):
        epoch, b = divmod(step, per_epoch)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7 + epoch))
        idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
        w = max(int(t["attention_mask"][idx].sum(1).max()), 1)
        ids = t["input_ids"][idx, :w].long()
        attn = t["attention_mask"][idx, :w].long()
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        inputs, labels = bert_mlm_mask(ids, special[idx, :w], attn, tokenizer, cfg.mlm_probability, g)
        torch.manual_seed(seed * 1_000_033 + step)  # dropout, reproducible across resumes
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, lr)
        loss = _masked_lm_loss(model, inputs.to(device), attn.to(device), labels.to(device), body_grad)
        if not torch.isfinite(loss):
            pbar.close()
            kept = (f"last good checkpoint (step {read_json(ck / 'state.json')['step']}) kept in {display_path(ck)}"
                    if (ck / "state.json").is_file() else "no checkpoint yet")
            raise TrainingError(f"{desc}: loss became {loss.item()} at step {step}; {kept}; lower twin.lr "
                                f"(twin.head_lr for the head fit) and rerun")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        log.append({"step": step, "loss": loss.item()})
        pbar.update(1)
        pbar.set_postfix(loss=f"{loss.item():.3f}")
        done = step + 1
        if done % cfg.checkpoint_every == 0 and done < steps:
            if not all(torch.isfinite(p).all() for p in params):  # never checkpoint NaN weights
                pbar.close()
                kept = (f"last good checkpoint kept in {display_path(ck)}" if (ck / "state.json").is_file()
                        else "no checkpoint yet")
                raise TrainingError(f"{desc}: weights became non-finite at step {step}; {kept}; lower twin.lr "
                                    f"(twin.head_lr for the head fit) and rerun")
            with atomic_path(ck) as tmp:
                tmp.mkdir(parents=True)
                st_save_model(model, str(tmp / "model.safetensors"))  # handles tied weights
                torch.save(opt.state_dict(), tmp / "optimizer.pt")
                atomic_write_json(tmp / "state.json", {"step": done, "log": log})
        if stop_after is not None and done >= stop_after:
            pbar.close()
            raise KeyboardInterrupt(f"stopped after {done} steps")
    pbar.close()
    model.eval()
    if ck.exists():
        shutil.rmtree(ck)
    return log


# --------------------------------------------------------------------------------------------
# The masked-LM head, fitted to convergence on cached encoder outputs
# --------------------------------------------------------------------------------------------
def mlm_head(model: nn.Module) -> nn.Module:
    """The masked-LM head module of a BERT- (``cls``) or RoBERTa-style (``lm_head``) model."""
    for name in ("cls", "lm_head"):
        if hasattr(model, name):
            return getattr(model, name)
    raise TrainingError(f"{type(model).__name__}: the twin needs a BERT- or RoBERTa-style masked-LM head")


@torch.no_grad()
def _cached_masked_states(model, tokenizer, docs: list[Doc], window: int | Windowing, seed: int, maskings: int,
                          device, bs: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Final hidden states at the masked positions of ``maskings`` seeded BERT maskings of the windows of
    ``docs``, and the labels: the head's training data (the encoder is frozen, so its outputs can be computed
    once)."""
    t, _ = Windowing.of(window).tokens(tokenizer, docs)
    special = t["attention_mask"] & ~t["keep_mask"]
    states, labels = [], []
    model.eval()
    for m in range(maskings):
        g = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * (m + 1))
        for s in range(0, t["input_ids"].shape[0], bs):
            attn = t["attention_mask"][s : s + bs]
            w = max(int(attn.sum(1).max()), 1)
            ids = t["input_ids"][s : s + bs, :w].long()
            inputs, lab = bert_mlm_mask(ids, special[s : s + bs, :w], attn[:, :w], tokenizer, 0.15, g)
            hidden = model.base_model(input_ids=inputs.to(device), attention_mask=attn[:, :w].long().to(device))
            sel = lab != -100
            states.append(hidden.last_hidden_state[sel.to(device)].float().cpu())
            labels.append(lab[sel])
    return torch.cat(states), torch.cat(labels)


def fit_mlm_head(model, tokenizer, train: list[Doc], evald: list[Doc], cfg: TwinConfig, seed: int,
                 window: int | Windowing, device) -> dict:
    """Fit the head of ``model`` (its encoder frozen) until its held-out loss stops improving.

    The head sees cached final hidden states of ``twin.head_fit_maskings`` maskings of the training
    documents; every ``head_fit_eval_every`` steps its loss on one masking of ``evald`` is recorded, and the
    fit stops after ``head_fit_patience`` evaluations without a 0.5% improvement (or at
    ``head_fit_max_steps``), keeping the best head. Returns the curve."""
    head = mlm_head(model)
    seed_everything(seed)
    x, y = _cached_masked_states(model, tokenizer, train, window, seed, cfg.head_fit_maskings, device)
    xe, ye = _cached_masked_states(model, tokenizer, evald, window, seed + 1, 1, device)
    logger.info("fit MLM head on %d cached masked positions (%d held out)", len(y), len(ye))
    frozen = {id(p) for p in model.base_model.parameters()}  # the tied decoder weight = word embeddings
    params = [p for p in head.parameters() if id(p) not in frozen]
    opt = torch.optim.AdamW(params, lr=cfg.head_lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed * 31 + 5)
    batch = cfg.batch_size * 8  # masked positions per step (about a batch of documents' worth x 8)

    def loss_on(xs, ys) -> torch.Tensor:
        return F.cross_entropy(head(xs.to(device)).float(), ys.to(device))

    @torch.no_grad()
    def eval_loss() -> float:
        head.eval()
        out = sum(loss_on(xe[i : i + 4096], ye[i : i + 4096]).item() * len(ye[i : i + 4096])
                  for i in range(0, len(ye), 4096)) / max(len(ye), 1)
        head.train()
        return out

    curve = [{"step": 0, "train_loss": None, "eval_loss": eval_loss()}]
    best, best_state, stale, running = curve[0]["eval_loss"], None, 0, []
    head.train()
    pbar = tqdm(total=cfg.head_fit_max_steps, desc="fit MLM head", unit="step")
    for step in range(1, cfg.head_fit_max_steps + 1):
        idx = torch.randint(len(y), (batch,), generator=g)
        loss = loss_on(x[idx], y[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        running.append(loss.item())
        pbar.update(1)
        if step % cfg.head_fit_eval_every == 0:
            ev = eval_loss()
            curve.append({"step": step, "train_loss": sum(running) / len(running), "eval_loss": ev})
            running = []
            pbar.set_postfix(eval_loss=f"{ev:.3f}")
            logger.info("fit MLM head: step %d/%d, train loss %.3f, held-out loss %.3f", step, cfg.head_fit_max_steps,
                        curve[-1]["train_loss"], ev)
            if ev < best * 0.995:
                best, stale = ev, 0
                best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
            else:
                stale += 1
                if stale >= cfg.head_fit_patience:
                    break
    pbar.close()
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    converged = stale >= cfg.head_fit_patience
    logger.info("MLM head: held-out loss %.3f -> %.3f after %d steps (%s)", curve[0]["eval_loss"], best,
                curve[-1]["step"], "converged" if converged else "stopped at head_fit_max_steps")
    return {"curve": curve, "steps": curve[-1]["step"], "converged": converged, "best_eval_loss": best,
            "train_positions": len(y), "eval_positions": len(ye)}


# --------------------------------------------------------------------------------------------
# The planted concept (featevo.planting)
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def planted_token_loss(model: nn.Module, tokenizer, docs: list[Doc], substitutions: dict[str, str], device,
                       window: int | Windowing, bs: int = 64) -> dict:
    """Masked-LM loss at the planted tokens only (:func:`featevo.planting.planted_positions` of the planted
    ``docs``, all masked at once per window): how well a model predicts the planted word in its new context."""
    t, _ = Windowing.of(window).tokens(tokenizer, docs, offsets=True)
    target = planted_positions(docs, t, substitutions)
    labels = torch.where(target, t["input_ids"].long(), torch.full_like(t["input_ids"].long(), -100))
    ids = torch.where(target, torch.full_like(t["input_ids"].long(), tokenizer.mask_token_id), t["input_ids"].long())
    total, count = 0.0, 0
    for s in range(0, t["input_ids"].shape[0], bs):
        w = max(int(t["attention_mask"][s : s + bs].sum(1).max()), 1)
        attn = t["attention_mask"][s : s + bs, :w].long().to(device)
        loss, n, _ = model_loss(model, "mlm", ids[s : s + bs, :w].to(device), attn, labels[s : s + bs, :w].to(device))
        total, count = total + loss, count + n
    return {"loss": total / count if count else None, "tokens": count, "docs": len(docs)}


# --------------------------------------------------------------------------------------------
# The twins
# --------------------------------------------------------------------------------------------
def twin_plan(cfg: TwinConfig, train: list[Doc]) -> dict[str, dict]:
    """Twin key -> its training documents and what they are: ``tuned`` (financial documents),
    ``control`` (general documents, when ``twin.control``) and ``planted`` (the financial documents with
    ``twin.planted`` substituted, when set) and ``replica`` (the tuned twin's documents, when ``twin.replica``).
    Every twin uses the same recipe and seed, except the replica (``seed_offset`` 1)."""
    fin = [d for d in train if d.domain == TARGET]
    plan = {"tuned": {"docs": fin, "domain": TARGET}}
    if cfg.control:
        plan["control"] = {"docs": [d for d in train if d.domain == REFERENCE], "domain": REFERENCE}
    if cfg.replica:
        plan["replica"] = {"docs": fin, "domain": TARGET, "seed_offset": 1}
    if cfg.planted:
        docs, changed = planted_docs(fin, cfg.planted)
        plan["planted"] = {"docs": docs, "domain": TARGET, "substitutions": dict(cfg.planted),
                           "changed_docs": changed}
    for key, p in plan.items():
        if len(p["docs"]) < cfg.batch_size:
            raise TrainingError(f"only {len(p['docs'])} {p['domain']} training documents for the {key} twin; it "
                                f"needs at least twin.batch_size={cfg.batch_size}")
    return plan


def _save(model, tok, folder: Path) -> None:
    with atomic_path(folder) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))


def make_base_with_head(base_cfg: ModelConfig, cfg: TwinConfig, train: list[Doc], evald: list[Doc], out: Path,
                        seed: int, device, window: int | Windowing) -> dict:
    """``out/base``: the published encoder with a masked-LM head (fitted here when it ships without one)."""
    info = {"base_model": base_cfg.name, "base_had_mlm_head": head_kind(base_cfg) == "mlm"}
    base_dir = out / TwinFiles.BASE
    if (base_dir / "config.json").is_file():  # resumed after the head fit: the same report as without the kill
        log = out / TwinFiles.HEAD_WORK / TwinFiles.LOOP_LOG
        return read_json(log) if log.is_file() else info
    tok = load_tokenizer(base_cfg)
    seed_everything(seed)
    base = load_model(base_cfg, head="mlm", device=device)
    if not info["base_had_mlm_head"]:
        ref = {k: v.detach().clone() for k, v in base.base_model.named_parameters()}
        info["head_fit"] = fit_mlm_head(base, tok, train, evald, cfg, seed, window, device)
        if not all(torch.equal(ref[k], v) for k, v in base.base_model.named_parameters()):
            raise TrainingError("fitting the MLM head changed the base encoder weights")  # pragma: no cover
        atomic_write_json(out / TwinFiles.HEAD_WORK / TwinFiles.LOOP_LOG, info)  # for a resumed run's report
    _save(base, tok, base_dir)
    return info


def train_twin(key: str, plan: dict, cfg: TwinConfig, out: Path, seed: int, device, window: int | Windowing,
               stop_after: int | None = None) -> list[dict]:
    """Continue the masked-LM pretraining of ``out/<plan["start"]>`` (``base`` unless the plan says ``tuned``) on
    the twin's documents; writes ``out/<key>``."""
    work = out / f"{TwinFiles.TWIN_WORK}_{key}"
    if (out / key / "config.json").is_file():
        return read_json(work / TwinFiles.LOOP_LOG) if (work / TwinFiles.LOOP_LOG).is_file() else []
    base_local = ModelConfig(name=str(out / plan.get("start", TwinFiles.BASE)))
    tok = load_tokenizer(base_local)
    seed_everything(seed)
    model = load_model(base_local, head="mlm", device=device)
    log = _train_loop(model, tok, plan["docs"], cfg, cfg.steps, cfg.lr, list(model.parameters()), work, seed,
                      window, device, f"fine-tune {key} twin", stop_after=stop_after)
    atomic_write_json(work / TwinFiles.LOOP_LOG, log)
    _save(model, tok, out / key)
    return log


def twin_drift(out: Path, keys: list[str]) -> dict:
    """Parameter drift of each twin in ``out`` from the base (per block)."""
    base = load_model(ModelConfig(name=str(out / TwinFiles.BASE)), head="mlm", device=torch.device("cpu"))
    drift = {}
    for k in keys:
        drift[k] = param_drift(base, load_model(ModelConfig(name=str(out / k)), head="mlm", device=torch.device("cpu")))
    return drift


PROBE_EVAL_NOTE = ("masked-LM loss on the probe set (held-out templates: none occurs in the corpus), one seeded 15% "
                   "mask shared by every model")


def probe_eval(models: dict[str, ModelConfig], probe: list[Doc], substitutions: dict[str, str], seed: int, device,
               window: int | Windowing) -> dict:
    """The masked-LM loss of every model (``base`` with its fitted head and each twin, by key) on held-out
    templates (the probe set, whose templates never occur in the corpus) with one seeded mask for all models,
    per domain; with ``substitutions`` also each model's loss at the planted word in the probe's financial
    sentences with the concept planted. Stage ``03_activation_deltas`` writes it (``twin_eval.json``)."""
    tok = load_tokenizer(models["base"])
    loaded = {k: load_model(m, head="mlm", device=device) for k, m in models.items()}
    by_dom = {dom: [d for d in probe if d.domain == dom] for dom in (TARGET, REFERENCE)}
    report: dict = {"eval_mlm_loss": {}, "eval_note": PROBE_EVAL_NOTE,
                    "tokenisation": Windowing.of(window).tokens(tok, probe)[1]}
    for dom, docs in by_dom.items():
        report["eval_mlm_loss"][dom] = {k: mlm_eval_loss(m, tok, docs, device, window, seed)
                                        for k, m in loaded.items()}
        report["eval_mlm_loss"][dom].update(docs=len(docs), templates=len({d.cluster for d in docs if d.cluster}))
    if substitutions:
        docs, _ = planted_docs(by_dom[TARGET], substitutions)
        docs = [d for d, orig in zip(docs, by_dom[TARGET]) if d.text != orig.text]
        report["planted_token_loss"] = {k: planted_token_loss(m, tok, docs, substitutions, device, window)
                                        for k, m in loaded.items()}
    for dom, v in report["eval_mlm_loss"].items():
        logger.info("held-out MLM loss on %s probe text: %s", dom, ", ".join(f"{k} {v[k]:.3f}" for k in loaded))
    return report


def make_twins(base_cfg: ModelConfig, cfg: TwinConfig, train: list[Doc], evald: list[Doc], out: Path,
               seed: int, device, window: int | Windowing, stop_after: int | None = None,
               tuned_cfg: ModelConfig | None = None) -> dict:
    """Write ``out/base`` (base + MLM head) and one folder per twin (``tuned``, ``control``, ``planted``), and
    return the report (``twin_report.json``): head fit, training logs, parameter drift and, per twin and for the
    head fit's corpus splits, the token accounting of the windows (nothing truncated silently). The probe set
    is not read here (see :func:`probe_eval`). ``tuned_cfg`` (and ``twin.control_model`` / ``replica_model``): given
    models written into their folders instead of made (:mod:`featevo.twin_sources`); the planted twin and a made
    replica then start from ``twin.planted_from``."""
    from featevo.twin_sources import given_models, import_model, planted_start

    window = Windowing.of(window)
    plan = twin_plan(cfg, train)
    given = given_models(tuned_cfg, cfg)
    for key in ("replica", "planted"):
        if key in plan:
            plan[key]["start"] = planted_start(tuned_cfg, cfg)
    tok = load_tokenizer(base_cfg)
    accounting = {"corpus_train": window.tokens(tok, train)[1], "corpus_eval": window.tokens(tok, evald)[1]}
    report: dict = {"seed": seed, **make_base_with_head(base_cfg, cfg, train, evald, out, seed, device, window)}
    report["base_encoder_unchanged"] = True
    report["windowing"] = {"max_length": window.max_length, "stride": window.stride,
                           "max_windows": window.max_windows}
    report["twins"] = {}
    for key in sorted(plan, key=lambda k: k != "tuned"):  # the tuned model first: a twin may start from it
        p = plan[key]
        if key in given:
            report["twins"][key] = {"domain": p["domain"], "train_docs": 0, "log": [],
                                    **import_model(key, given[key], base_cfg, cfg, train, evald, out, seed, device,
                                                   window)}
            continue
        log = train_twin(key, p, cfg, out, seed + p.get("seed_offset", 0), device, window, stop_after=stop_after)
        accounting[key] = window.tokens(tok, p["docs"])[1]
        report["twins"][key] = {"domain": p["domain"], "train_docs": len(p["docs"]), "log": log,
                                "tokenisation": accounting[key], "start": p.get("start", TwinFiles.BASE),
                                **{k: p[k] for k in ("substitutions", "changed_docs", "seed_offset") if k in p}}
    report["tokenisation"] = accounting
    report["drift"] = twin_drift(out, list(plan))
    report["target_train_docs"] = len(plan["tuned"]["docs"])
    atomic_write_json(out / TwinFiles.REPORT, report)
    for w in out.glob(f"{TwinFiles.TWIN_WORK}*"):  # after the report: a kill before it still finds the logs
        shutil.rmtree(w, ignore_errors=True)
    shutil.rmtree(out / TwinFiles.HEAD_WORK, ignore_errors=True)
    for key, st in accounting.items():
        logger.info("twin data %s: %d documents in %d windows (%d split), %d of %d tokens kept; dropped: %s", key,
                    st["documents"], st["windows"], st["documents_split"], st["tokens_kept"], st["tokens_total"],
                    ", ".join(f"{k} {v}" for k, v in st["dropped"].items()))
        if st["dropped"]["truncation"]:
            logger.warning("twin data %s: %d tokens dropped by harvest.max_windows=%s", key,
                           st["dropped"]["truncation"], window.max_windows)
    return report
