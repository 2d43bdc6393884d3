"""Random backpropagation and the learning channel (Baldi, Sadowski & Lu 2017, 2018).

Public API: :class:`FeedbackMLP` — one engine for BP, RBP (feedback alignment), SRBP (direct
feedback alignment), ARBP, ASRBP, sign-concordant, resampled, top-only and non-linear-channel
rules, with sparse / low-precision / f′-free variants; :func:`gradient_angles` and
:func:`feedback_angles` (alignment diagnostics); :func:`convert` (swap-in feedback for existing
``nn.Linear`` models); data loaders, training loops and the analytic linear chain.
"""

from .angles import angle_between, feedback_angles, gradient_angles, true_gradients
from .convert import FeedbackLinear, convert
from .data import Split, load_dataset, load_digits_split, load_mnist, make_mnist1d, read_idx
from .engine import ACTIVATIONS, RULES, FeedbackMLP, canonical_rule, quantize
from .train import TrainConfig, accuracy, compare_rules, fit, symmetry_run

__all__ = [
    "FeedbackMLP", "RULES", "ACTIVATIONS", "canonical_rule", "quantize",
    "gradient_angles", "feedback_angles", "angle_between", "true_gradients",
    "FeedbackLinear", "convert",
    "Split", "load_dataset", "load_digits_split", "load_mnist", "make_mnist1d", "read_idx",
    "TrainConfig", "accuracy", "compare_rules", "fit", "symmetry_run",
]
