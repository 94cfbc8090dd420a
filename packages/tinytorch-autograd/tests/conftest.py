"""Shared fixtures of tinytorch-autograd's tests."""

import pytest

import tinytorch.autograd as ag


@pytest.fixture(autouse=True)
def _autograd_on():
    """Every test starts with autograd plugged in and grad mode on, and ends
    with autograd plugged in again (test_mode.py unplugs it on purpose)."""
    ag.enable_autograd()
    with ag.enable_grad():
        yield
    ag.enable_autograd()
