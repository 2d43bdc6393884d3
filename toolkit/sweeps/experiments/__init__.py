"""Built-in experiments, registered lazily: a module is imported only when its experiment is used.

Nothing here registers anything: the engine's demos are listed in ``registry._ENGINE_EXPERIMENTS`` and each
topic names its experiments in its own ``topic.py`` (``Topic.experiments``).

=================  ==========================================================================
toy                an analytic objective ``(x − 0.5)² + noise`` with optional failures and delay
                   (tests and demos of the engine: resume, failures, parallel workers)
intro-wave         the start-here MLP on a noisy sine: hidden × lr × seed (pruning demo)
tracking-lambda    tracking: λ × seeds → purity, efficiency, instability between seeds, barrier
feedback-rules     feedback: rule × width × seeds → accuracy, gradient/feedback angles
diffusion-nfe      diffusion: sampler × NFE → CRPS, spread–skill, power ratio, time
=================  ==========================================================================
"""
