"""The lenses of ``02_model_diffing``: one module per lens, each making its own claims (:mod:`featevo.claims`)
with its ``lens`` name and ``role``, so that stage 05 renders them by iterating."""
