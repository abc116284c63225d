"""Closed-form test distributions shared by the core tests (docs/math.md §9)."""

import torch


def joint_gaussian():
    """Mean and covariance of a jointly Gaussian (x, y) in R^3: x the first two components, y the last."""
    a = torch.tensor([[1.0, 0.3, 0.5], [0.0, 0.8, -0.4], [0.2, 0.0, 0.6]], dtype=torch.float64)
    return torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), a @ a.T + 0.05 * torch.eye(
        3, dtype=torch.float64
    )


def joint_gaussian_pairs(n: int = 50_000, seed: int = 0):
    """``n`` pairs (x0 (n, 2), y (n, 1)) drawn from :func:`joint_gaussian` with a seeded generator."""
    mean, cov = joint_gaussian()
    gen = torch.Generator().manual_seed(seed)
    joint = mean + torch.randn(n, 3, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    return joint[:, :2], joint[:, 2:]


def assert_gaussian_samples(x: torch.Tensor, mu: torch.Tensor, C: torch.Tensor) -> None:
    """Samples ``x`` (n_y, N, d) of the Gaussians N(mu[i], C), one per measurement: each mean within 5
    standard errors, each covariance within 5 relative standard errors of a variance, sqrt(2/N) (+ step
    error)."""
    se = torch.sqrt(torch.diagonal(C) / x.shape[1])
    for i in range(len(x)):
        assert torch.all((x[i].mean(0) - mu[i]).abs() < 5 * se), (i, x[i].mean(0), mu[i])
        torch.testing.assert_close(torch.cov(x[i].T), C, rtol=0.06, atol=0.01)
