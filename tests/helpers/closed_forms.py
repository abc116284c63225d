"""Closed-form test distributions shared by the core tests (docs/math.md §9)."""

import torch


def joint_gaussian():
    """Mean and covariance of a jointly Gaussian (x, y) in R^3: x the first two components, y the last."""
    a = torch.tensor([[1.0, 0.3, 0.5], [0.0, 0.8, -0.4], [0.2, 0.0, 0.6]], dtype=torch.float64)
    return torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), a @ a.T + 0.05 * torch.eye(
        3, dtype=torch.float64
    )
