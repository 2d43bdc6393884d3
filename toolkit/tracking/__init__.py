"""Tracking: gradients through a combinatorial solver (Kortus, Keidel & Gauger, TMLR 2025;
Vlastelica et al., ICLR 2020).

Simulate a layered pixel tracker, build hit graphs, score candidate segments with an interaction
network, link them layer by layer with an exact linear assignment, and train either
"predict then track" (BCE) or "predict and track" (Hamming loss through the solver with the
blackbox / straight-through / Sinkhorn estimators).
"""

from .assignment import (
    DEFAULT_NO_MATCH,
    assignment_objective,
    blackbox_assignment,
    f_lambda,
    sinkhorn_assignment,
    solve_assignment,
    straight_through_assignment,
)
from .connectivity import bezier_path
from .detector import (
    DetectorConfig,
    Event,
    Phantom,
    energy_of_range,
    highland_theta0,
    phantom,
    range_of_energy,
    simulate_events,
)
from .graph import DEFAULT_WINDOW, build_graph, build_graph_batch, build_graphs, simulate_graph_batch
from .imaging import image_rmse, phantom_image, radiograph, track_wepl
from .landscape import barrier_height, interpolate_models, linear_path, loss_slice, stability_sweep
from .losses import MODES, bce_loss, hamming_loss, tracking_loss
from .metrics import (
    disagreement,
    edge_precision_recall,
    exact_match_purity_efficiency,
    m_minmax,
    paper_purity_efficiency,
    track_purity_efficiency,
    trackml_score,
    tracks_from_edges,
)
from .model import EdgeClassifier, GeometricBaseline, InteractionNetwork, ModelConfig, count_parameters
from .pipeline import (
    ESTIMATORS,
    PAPER,
    assign_edges,
    edge_decisions,
    edge_logits,
    edges_to_dense,
    evaluate,
    has_skip_edges,
    instability,
    lambda_paper,
    lambda_scale,
    predict_tracks,
    score_decisions,
    solve_layer_pairs,
    track_labels,
    truth_labels,
    tune_threshold,
)
from .trackml_io import read_trackml, write_trackml
from .train import TrainConfig, fit, load_model, make_dataset, one_thread, save_model

__all__ = [
    "has_skip_edges",
    "DEFAULT_NO_MATCH",
    "assignment_objective",
    "blackbox_assignment",
    "f_lambda",
    "sinkhorn_assignment",
    "solve_assignment",
    "straight_through_assignment",
    "DetectorConfig",
    "Event",
    "Phantom",
    "energy_of_range",
    "highland_theta0",
    "phantom",
    "range_of_energy",
    "simulate_events",
    "DEFAULT_WINDOW",
    "build_graph",
    "build_graph_batch",
    "simulate_graph_batch",
    "build_graphs",
    "image_rmse",
    "phantom_image",
    "radiograph",
    "track_wepl",
    "barrier_height",
    "bezier_path",
    "interpolate_models",
    "linear_path",
    "loss_slice",
    "stability_sweep",
    "MODES",
    "bce_loss",
    "hamming_loss",
    "tracking_loss",
    "disagreement",
    "edge_precision_recall",
    "m_minmax",
    "track_purity_efficiency",
    "trackml_score",
    "paper_purity_efficiency",
    "exact_match_purity_efficiency",
    "GeometricBaseline",
    "PAPER",
    "edge_logits",
    "score_decisions",
    "solve_layer_pairs",
    "tune_threshold",
    "lambda_paper",
    "tracks_from_edges",
    "EdgeClassifier",
    "InteractionNetwork",
    "ModelConfig",
    "count_parameters",
    "ESTIMATORS",
    "assign_edges",
    "edge_decisions",
    "edges_to_dense",
    "evaluate",
    "instability",
    "lambda_scale",
    "predict_tracks",
    "track_labels",
    "truth_labels",
    "TrainConfig",
    "fit",
    "load_model",
    "make_dataset",
    "one_thread",
    "save_model",
    "read_trackml",
    "write_trackml",
]
