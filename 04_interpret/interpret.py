"""Stage 04: label the most interesting latents of both SAEs with Delphi and score the labels.

    python 04_interpret/interpret.py --config configs/demo.yaml [--force] [--set interpret.latents=all]

Backends (interpret.backend): local (llama-cpp server on 127.0.0.1 with SmolLM2 or any GGUF),
vllm (Delphi's Offline client on a GPU), openai (any OpenAI-compatible endpoint; key from the
environment variable named by interpret.api_key_env). Results are saved per latent as they
finish: rerun the same command after a crash to continue.
Outputs: outputs/<run>/04_interpret/ (labels_comparison.csv, scores.csv, labels_summary.csv, scores_summary.csv,
explanations.json, summary.json, prompts/, latents/, shuffled/).
"""

import sys

from featevo.cli import run_stage
from featevo.layout import INTERPRET
from featevo.interpret import run


def main(argv=None) -> int:
    return run_stage(run, INTERPRET, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
