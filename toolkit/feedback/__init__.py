"""Random backpropagation and the learning channel (Baldi, Sadowski & Lu 2017, 2018).

Public API: :class:`FeedbackMLP` — one engine for BP, RBP (feedback alignment), SRBP (direct
feedback alignment), ARBP, ASRBP, sign-concordant (uSF / frSF / brSF), resampled, top-only,
non-linear-channel, Kolen–Pollack (KP, DKP), DRTP and weight-mirror rules, with sparse
(per entry or per neuron), low-precision (stochastic / midtread / midrise), f′-free and
B↔Wᵀ-interpolated (``feedback_mix``) channels; :func:`gradient_angles`, :func:`feedback_angles`
and :func:`alignment_report` (alignment diagnostics, also for converted models); :func:`convert`
(swap-in feedback for existing ``nn.Linear`` models); data loaders, training loops, measured
studies and the analytic chains.
"""

from .angles import alignment_report, angle_between, feedback_angles, gradient_angles, true_gradients
from .convert import FeedbackLinear, convert
from .data import Split, load_dataset, load_digits_split, load_mnist, make_mnist1d, read_idx
from .engine import ACTIVATIONS, RULES, FeedbackMLP, canonical_rule, quantize
from .train import TrainConfig, accuracy, compare_rules, fit, symmetry_run

__all__ = [
    "FeedbackMLP",
    "RULES",
    "ACTIVATIONS",
    "canonical_rule",
    "quantize",
    "gradient_angles",
    "feedback_angles",
    "angle_between",
    "true_gradients",
    "alignment_report",
    "FeedbackLinear",
    "convert",
    "Split",
    "load_dataset",
    "load_digits_split",
    "load_mnist",
    "make_mnist1d",
    "read_idx",
    "TrainConfig",
    "accuracy",
    "compare_rules",
    "fit",
    "symmetry_run",
]
