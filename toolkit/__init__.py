"""Gradient Lab: three ways a gradient can travel.

Topics (each a subpackage, importable on its own):
  ``toolkit.tracking``  — through a combinatorial solver (differentiable track assignment)
  ``toolkit.feedback``  — through a random feedback channel (random backpropagation)
  ``toolkit.diffusion`` — through noise (score-based diffusion for weather downscaling)
Shared pieces: ``validation``, ``io`` (atomic files, checkpoints), ``training`` (Trainer factory),
``livechart`` / ``charts`` / ``panels`` (live Altair charts and widget panels), ``check``
(self-checking exercises), ``cli`` (``python -m toolkit``).
"""

import importlib.metadata
import logging

# One source: the version in pyproject.toml, read from the installed package's metadata (`make lab`
# and `make test` install the package, editable, before anything imports it).
__version__ = importlib.metadata.version("gradient-lab")

# A library does not print its log records: an application (the CLI, a researcher's script) decides
# where they go. Without this, Python's last-resort handler writes warnings to stderr, a red box
# in every notebook (the warnings that matter are also raised with ``warnings.warn``).
logging.getLogger(__name__).addHandler(logging.NullHandler())
