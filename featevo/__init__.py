"""featevo: how SAE features of an encoder change under domain fine-tuning.

``featevo.load_run(path_or_config)`` opens a run folder for reading (:mod:`featevo.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from featevo.api import Run, load_run

__all__ = ["Run", "load_run"]


def __getattr__(name: str) -> Any:
    # lazy: ``import featevo.config`` (every stage) must not import the API's dependencies
    if name in __all__:
        from featevo import api

        return getattr(api, name)
    raise AttributeError(f"module 'featevo' has no attribute {name!r}")
