"""Shared fixtures and test settings."""

import os

import pytest
import torch
from hypothesis import settings

# CI explores a fixed set of examples so that a green run repeats; local runs stay random and keep
# searching for new counterexamples (run `CI=true pytest` to reproduce CI exactly).
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@pytest.fixture
def one_thread():
    """Small convolutions are fastest on one thread (2 threads spin-wait on a busy 2-core box)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def no_foreign_event_loop():
    """For tests that decide themselves whether an event loop runs (a panel with a SliderPreview
    previews only when one does): hide a loop another library left marked as running in this thread
    (Playwright's sync API does while a browser is open), and put it back afterwards."""
    import asyncio

    foreign = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(foreign)


@pytest.fixture(scope="session")
def grid_event():
    """``make(rng, n_hits, n_layers)``: a tracking Event with hits on a 0.25 mm grid, 5 mm apart in z, so
    many hit pairs sit exactly on a window edge (|Δx| = 0.2 · 5 mm); particle ids 0 (noise) to 3."""
    import numpy as np

    from toolkit.tracking import Event

    def make(rng: np.random.Generator, n_hits: int, n_layers: int) -> Event:
        layer = np.sort(rng.integers(0, n_layers, n_hits))
        x, y = rng.integers(-8, 9, n_hits) * 0.25, rng.integers(-8, 9, n_hits) * 0.25
        return Event(
            event_id=0,
            x=x,
            y=y,
            z=layer * 5.0,
            layer=layer,
            edep=rng.uniform(0.01, 1.0, n_hits),
            particle_id=rng.integers(0, 4, n_hits),
            particles={"particle_id": np.arange(1, 4)},
        )

    return make
