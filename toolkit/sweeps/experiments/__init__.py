"""Built-in experiments, registered lazily: a module is imported only when its experiment is used.

=================  ==========================================================================
toy                an analytic objective ``(x − 0.5)² + noise`` with optional failures and delay
                   (tests and demos of the engine: resume, failures, parallel workers)
intro-wave         the start-here MLP on a noisy sine: hidden × lr × seed (pruning demo)
tracking-lambda    tracking: λ × seeds → purity, efficiency, instability between seeds, barrier
feedback-rules     feedback: rule × width × seeds → accuracy, gradient/feedback angles
diffusion-nfe      diffusion: sampler × NFE → CRPS, spread–skill, power ratio, time
=================  ==========================================================================
"""

from __future__ import annotations

import importlib

from ..registry import _REGISTRY, register

_BUILTINS = {
    "toy": "toy",
    "intro-wave": "wave",
    "tracking-lambda": "tracking",
    "feedback-rules": "feedback",
    "diffusion-nfe": "diffusion",
}


def _factory(module: str):
    def build():
        return importlib.import_module(f"{__name__}.{module}").experiment()

    return build


for _name, _module in _BUILTINS.items():
    if _name not in _REGISTRY:
        register(_factory(_module), _name)
