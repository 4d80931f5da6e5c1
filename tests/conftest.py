"""Fixtures shared by the test modules."""

import pytest

import pyoptgra


@pytest.fixture
def forward_differences(monkeypatch):
    """Make optgra use the engine's forward differences (mode 3) where it would use central ones."""
    settings = pyoptgra.optgra._algorithm_settings

    def forward(self, n, has_gradient):
        result = settings(self, n, has_gradient)
        if result["derivative_mode"] == 2:
            result["derivative_mode"] = 3
        return result

    monkeypatch.setattr(pyoptgra.optgra, "_algorithm_settings", forward)
