"""Gradient Lab: three ways a gradient can travel.

Topics (each a subpackage, importable on its own):
  ``toolkit.tracking``  — through a combinatorial solver (differentiable track assignment)
  ``toolkit.feedback``  — through a random feedback channel (random backpropagation)
  ``toolkit.diffusion`` — through noise (score-based diffusion for weather downscaling)
Shared pieces: ``validation``, ``io`` (atomic files, checkpoints), ``training`` (Trainer factory),
``livechart`` / ``charts`` / ``panels`` (live Altair charts and widget panels), ``check``
(self-checking exercises), ``cli`` (``python -m toolkit``).
"""

__version__ = "0.1.0"
