"""The lenses of ``02_model_diffing``: a :class:`Lens` protocol and one registry, :data:`LENSES`.

A lens is one way to diff two models that keeps feature identity (the stage-wise lens: :mod:`.stagewise`; the
crosscoder lens: :mod:`.crosscoder`). The stage (:mod:`featevo.diffing`) loops over :data:`LENSES` for every
step that involves a lens, so a new lens is its module, its config section (``diffing.<name>``, a dataclass in
:mod:`featevo.config`) and one :func:`register` call:

* **fit**: train or compute the lens on the run's activations (:class:`DiffingRun`); returns the lens's state;
* **summary**: its sections of the stage's ``summary.json`` (and **table**: its per-latent table, if any);
* **per-latent change statistic** (:meth:`Lens.change`) and the latents' activations on the planted sentences
  (:meth:`Lens.codes`), from which the stage scores the **planted** positive control
  (:func:`featevo.planted_control.score_lens`): the rank of the planted latent in the lens's change ranking;
* **negative_control** (the summary's ``negative_control`` section, named so for compatibility): its counts on the
  main contrast, the control twin and its null. The control twin (the same recipe on reference-domain text) is a real
  change, so its claims are *comparisons*; a true negative control is a null where nothing changed (e.g. the
  fixed-dictionary lens's sham domain labels);
* **flagged base latents**: its flagged set expressed as base SAE latents, for lens agreement
  (:func:`featevo.lenses.lens_agreement`);
* **claims**: its claims (:mod:`featevo.claims`) made from the stage's summary, with ``lens`` = its registry name
  and a role (:data:`featevo.claims.ROLES`: ``claim``; ``comparison``, a real change set beside the claim's, such
  as the control twin's; ``positive_control``; ``negative_control``, a true null only; ``check``). A claim's p sits
  beside its smallest attainable value, and its unit is what was sampled (a run, a crosscoder, an SAE), not latents
  of one run;
* **figures**: its figures in the stage folder.

Optional attributes: ``check(cfg)`` (config checks run before the stage starts), ``schema`` (a
:class:`featevo.tables.Schema`: the stage writes the lens's :meth:`Lens.table` under its file name), ``label`` (its
name in the report) and ``description`` (one sentence for the report's section; a lens without a section of its own
in :mod:`featevo.report.diffing` is rendered from its claims). The held-out rows and the planted text every lens
reads are made in :mod:`.rows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np

from featevo.config import PipelineConfig


@dataclass
class DiffingRun:
    """What every lens reads: the config, stage 01's folder, this stage's (partial) folder, the held-out rows
    (:class:`.rows.Rows`), the planted text (:class:`.rows.PlantedText` or None), the model keys and the device."""

    cfg: PipelineConfig
    s1: Path
    out: Path
    rows: Any
    train_domain: np.ndarray
    has_domains: bool
    ptext: Any
    keys: tuple[str, ...]
    device: Any


PARTS = ("planted", "main")
"""The planted control's two parts: the planted contrast (tuned -> planted twin) and the main base-vs-tuned diff."""


@runtime_checkable
class Lens(Protocol):
    """One diffing lens (see the module docstring); ``name`` is its registry name, its claims' ``lens`` and its
    summary and timing keys; ``agreement_name`` its name in lens agreement."""

    name: str
    agreement_name: str

    def fit(self, run: DiffingRun) -> Any: ...

    def table(self, state: Any) -> Optional[Any]: ...

    def summary(self, run: DiffingRun, state: Any) -> dict: ...

    def change(self, state: Any, part: str) -> Optional[np.ndarray]: ...

    def codes(self, run: DiffingRun, state: Any, acts: dict, part: str) -> Optional[np.ndarray]: ...

    def statistic(self, part: str) -> str: ...

    def negative_control(self, run: DiffingRun, state: Any, summary: dict) -> Optional[dict]: ...

    def flagged_base_latents(self, run: DiffingRun, state: Any) -> dict: ...

    def claims(self, summary: dict, alpha: float) -> list[dict]: ...

    def figures(self, run: DiffingRun, state: Any) -> None: ...


LENSES: dict[str, Lens] = {}
"""Registry name -> lens, in the order the stage runs them (and the report shows them)."""


def register(lens: Lens) -> Lens:
    """Add ``lens`` to :data:`LENSES` (a name already taken is an error)."""
    if not isinstance(lens, Lens):
        raise TypeError(f"{type(lens).__name__} does not implement the diffing Lens protocol")
    if lens.name in LENSES:
        raise ValueError(f"diffing lens {lens.name!r} is already registered")
    LENSES[lens.name] = lens
    return lens


def unregister(name: str) -> None:
    """Remove lens ``name`` from :data:`LENSES` (tests that register a lens of their own)."""
    LENSES.pop(name, None)


from featevo.diffing_lenses.crosscoder import CrosscoderLens  # noqa: E402  (the built-in lenses register here)
from featevo.diffing_lenses.fixed_dictionary import FixedDictionaryLens  # noqa: E402
from featevo.diffing_lenses.stagewise import StagewiseLens  # noqa: E402

register(FixedDictionaryLens())
register(StagewiseLens())
register(CrosscoderLens())
