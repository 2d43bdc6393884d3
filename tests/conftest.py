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
