"""The learned ε-network against the exact conditional score, as a function of σ, on the linear–Gaussian
check (docs/problems.md §2, docs/math.md §9.4): where in σ the network errs, and where in σ the
probability-flow ODE picks up its excess width (docs/math.md §14).

    python experiments/fast_posteriors/score_error.py <run>/checkpoints/final.ckpt ...

For each checkpoint (``diffinv.train`` on ``problem=advdiff problem.clip=false``): the first 50 test
measurements y (the evaluator's, with its seeded noise) and the exact posterior N(μ(y), C) in the network's
normalised units (``normalised_joint``, ``ConditionalGaussianEps.posterior``).

Score error: on 30 σ log-spaced over [σ(t_ε), σ(T)] of the run's formulation, t = t(σ), x0 ~ N(μ(y), C)
(40 draws per y), x_t = m x0 + s z (rounded to float32, as the network sees it), and both ε's at the same
(x_t, t, y): the exact ε* = s (m² C + s² I)⁻¹ (x_t - m μ(y)) (docs/math.md §9.3) and the network's ε̂. Per σ:

- ``denoiser_error``: σ · RMS(ε̂ - ε*) / RMS posterior std. Since D = x̂ - σ ε (docs/math.md §12.1) this is the
  RMS error of the network's estimate of E[x0 | x_t, y], in units of the posterior's own std;
- ``eps_rel_error``: RMS(ε̂ - ε*) / RMS(ε*).

Where the ODE's width comes from: one Heun run on the network (35 steps, Karras grid, as the runs' ``heun``
sampler; 40 samples per y from N(0, σ(T)² I)), its state kept at every grid σ_k; from each σ_k the exact
probability-flow map of the Gaussian posterior, x̂ ↦ μ + ((C + σ_min² I)(C + σ_k² I)⁻¹)^½ (x̂ - μ) (docs/math.md
§12.3), carries it to σ_min = σ(t_ε). ``ode_std_ratio[k]`` is the std ratio (``exact/std_ratio``'s
definition) of the ODE that uses the network above σ_k and the exact score below: 1 + the excess width that
the network's error above σ_k causes. Its last entry is the network's own Heun ODE, to be compared with the
run's recorded ODE std ratio (``metrics.json`` next to ``checkpoints/``: rk45, else Heun).

Self-checks: the exact ε* fed through the same path as the network scores 0 up to float32 round-off
(``self_check_eps``), and Heun on the exact score gives std ratio 1 up to its own step error and the
40-draw std estimate, within 2 % (``self_check_ode``).

Writes ``score_error.png`` and ``score_error.json`` (``--out``, default: this folder), prints the tables. One
torch thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch
from hydra.utils import instantiate

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from diffinv.core.exact import ConditionalGaussianEps  # noqa: E402
from diffinv.core.samplers import conditional_score, sample_heun  # noqa: E402
from diffinv.data.source import dataset_path  # noqa: E402
from diffinv.problems.posterior.metrics import normalised_joint  # noqa: E402
from diffinv.run.files import save_figure, write_json  # noqa: E402
from diffinv.training.checkpoint import load_model  # noqa: E402

HERE = Path(__file__).resolve().parent
N_MEASUREMENTS, N_DRAWS, N_SIGMAS, HEUN_STEPS, SEED = 50, 40, 30, 35, 0
NOISE_COLOURS = {0.01: "C0", 0.05: "C1", 0.2: "C2"}
MARKERS = [None, "o", "^", "s", "D", "v", "x"]  # runs of the same noise level and network


class Posterior:
    """The exact ε-model of a run's data in the network's units, its first test measurements ``y_n``
    (n, 1, m) and their exact posteriors N(``mean`` (n, 1, d), ``cov`` (d, d)), ``cov`` = V diag(c) Vᵀ."""

    def __init__(self, model):
        cfg = model.config
        path = dataset_path(cfg)
        if not path.is_file():  # never generated here
            raise FileNotFoundError(f"{model.source}: its dataset {path} does not exist")
        datamodule = instantiate(cfg.data, path=str(path))
        datamodule.setup("test")
        model.check_data(datamodule)
        attrs = datamodule.dataset.attrs
        if "forward_map" not in attrs or attrs.get("clip", True) or datamodule.noise_std == 0:
            raise ValueError(f"{model.source}: not the linear–Gaussian check (problem.clip=false, noise > 0)")
        joint = normalised_joint(
            attrs["forward_map"], attrs["prior_mean"], attrs["prior_cov"], datamodule.noise_std,
            datamodule.x_norm, datamodule.y_norm,
        )  # fmt: skip
        self.form = model.module.formulation
        self.eps = ConditionalGaussianEps(*joint, model.module.network.x_dim, self.form)
        _, y, _ = datamodule.test_measurements(N_MEASUREMENTS)
        self.y_n = torch.as_tensor(datamodule.normalise_y(y))[:, None, :]
        self.mean, self.cov = self.eps.posterior(self.y_n)  # C does not depend on y
        self.c, self.vecs = torch.linalg.eigh(self.cov)
        self.c = self.c.clamp(min=0)
        self.std = float(torch.diagonal(self.cov).mean().sqrt())  # RMS over components

    def std_ratio(self, x_hat: torch.Tensor) -> float:
        """``exact/std_ratio`` of samples (n, k, d): per component, mean sample std over y / exact std."""
        sample_std = x_hat.double().std(dim=1).mean(dim=0)
        return float((sample_std / torch.diagonal(self.cov).sqrt()).mean())

    def flow(self, x_hat: torch.Tensor, sigma: float, sigma_min: float) -> torch.Tensor:
        """The exact probability-flow map of N(μ(y), C) from σ to σ_min in x̂ (docs/math.md §12.3)."""
        gain = torch.sqrt((self.c + sigma_min**2) / (self.c + sigma**2))
        return self.mean + ((x_hat.double() - self.mean) @ self.vecs) * gain @ self.vecs.T


def score_errors(eps_model, post: Posterior, sigmas: np.ndarray) -> dict[str, np.ndarray]:
    """Per σ, ``denoiser_error`` and ``eps_rel_error`` of ``eps_model`` ((x, t, y, mask) -> ε, float32
    inputs) against the exact ε*; the same seeded draws for every model."""
    form, (n, _, d) = post.form, post.mean.shape
    root = post.vecs * post.c.sqrt()
    out: dict[str, list] = {"denoiser_error": [], "eps_rel_error": []}
    gen = torch.Generator().manual_seed(SEED)
    for sigma in sigmas:
        t = form.t_of_sigma(torch.tensor(sigma, dtype=torch.float64))
        m, s = form.m(t), form.s(t)
        x0 = post.mean + torch.randn(n, N_DRAWS, d, generator=gen, dtype=torch.float64) @ root.T
        x_t = (m * x0 + s * torch.randn(n, N_DRAWS, d, generator=gen, dtype=torch.float64)).float()
        exact = post.eps(x_t.double(), t, post.y_n)
        with torch.no_grad():
            eps = eps_model(x_t, t.float().expand(n, N_DRAWS), post.y_n.float().expand(n, N_DRAWS, -1), None)
        rms = float((eps.double() - exact).square().mean().sqrt())
        out["denoiser_error"].append(sigma * rms / post.std)
        out["eps_rel_error"].append(rms / float(exact.square().mean().sqrt()))
    return {k: np.asarray(v) for k, v in out.items()}


class StateRecorder:
    """A score function that keeps the last state it was called at for each time: for Heun (EDM Alg. 1,
    ``sample_heun``) that is the state on the grid (the predictor's call at the same time comes first)."""

    def __init__(self, score_fn):
        self.score_fn, self.states = score_fn, {}

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.states[float(t.reshape(-1)[0])] = x
        return self.score_fn(x, t)


def ode_width_by_sigma(eps_model, post: Posterior) -> dict[str, np.ndarray]:
    """``ode_std_ratio[k]``: std ratio of Heun on ``eps_model`` above the grid's σ_k and the exact flow below
    (module docstring); ``ode_sigmas[k]`` = σ_k, from σ(T) down to σ(t_ε)."""
    form, (n, _, d) = post.form, post.mean.shape
    gen = torch.Generator().manual_seed(SEED + 1)
    x_T = form.prior_std * torch.randn(n, N_DRAWS, d, generator=gen)
    recorder = StateRecorder(conditional_score(eps_model, form, post.y_n.float()))
    with torch.no_grad():
        x_end = sample_heun(recorder, form, x_T, steps=HEUN_STEPS, schedule="karras")
    states = sorted(recorder.states.items(), reverse=True) + [(form.t_eps, x_end)]
    ts = torch.tensor([t for t, _ in states], dtype=torch.float64)
    sigmas, ms = form.sigma(ts).tolist(), form.m(ts).tolist()
    ratios = [
        post.std_ratio(post.flow(x / m, sigma, sigmas[-1]))
        for (_, x), m, sigma in zip(states, ms, sigmas, strict=True)
    ]
    return {"ode_sigmas": np.asarray(sigmas), "ode_std_ratio": np.asarray(ratios)}


def describe(ckpt: Path, model) -> dict:
    """What the run was: noise level, network, loss settings and its own ODE std ratio (if recorded)."""
    cfg = model.config
    edm = cfg.model._target_.endswith("EDMPrecond")
    metrics_file = ckpt.parent.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    ode = next((k for k in ("ode", "heun") if f"{k}/exact/std_ratio" in metrics), None)
    return {
        "run": ckpt.parent.parent.name,
        "ckpt": str(ckpt),
        "noise": float(cfg.data.noise),
        "network": "EDM" if edm else "plain",
        "sigma_data": float(cfg.model.sigma_data) if edm else None,
        "loss": dict(cfg.loss) if "loss" in cfg else {},
        "epochs": int(cfg.trainer.max_epochs),
        "lr": float(cfg.optimizer.lr),
        "lr_scheduler": cfg.lr_scheduler._target_.rsplit(".", 1)[-1] if cfg.get("lr_scheduler") else None,
        "run_ode_sampler": ode,
        "run_ode_std_ratio": metrics.get(f"{ode}/exact/std_ratio") if ode else None,
    }


def run_one(ckpt: Path) -> dict:
    model = load_model(ckpt)
    post = Posterior(model)
    form, network = post.form, model.module.network
    ends = form.sigma(torch.tensor([form.t_eps, form.T], dtype=torch.float64)).tolist()
    sigmas = np.geomspace(*ends, N_SIGMAS)
    return describe(ckpt, model) | {
        "post_std": post.std,
        "sigmas": sigmas,
        **score_errors(network, post, sigmas),
        **ode_width_by_sigma(network, post),
        "self_check_eps": float(score_errors(post.eps, post, sigmas)["eps_rel_error"].max()),
        "self_check_ode": float(ode_width_by_sigma(post.eps, post)["ode_std_ratio"][-1]),
    }


def at(sigmas: np.ndarray, values: np.ndarray, sigma: float) -> float:
    """``values`` (positive) interpolated at ``sigma``, log-log."""
    order = np.argsort(sigmas)
    return float(np.exp(np.interp(np.log(sigma), np.log(sigmas[order]), np.log(values[order]))))


def half_width_sigma(r: dict) -> float:
    """The σ above which the network's error causes half of the ODE's excess width (log-log interpolated)."""
    ratios, sigmas = r["ode_std_ratio"], r["ode_sigmas"]  # σ decreasing, ratio growing from ~1
    half = 1 + (ratios[-1] - 1) / 2
    k = int(np.argmax(ratios >= half))
    if k == 0:
        return float(sigmas[0])
    w = (half - ratios[k - 1]) / (ratios[k] - ratios[k - 1])
    return float(np.exp((1 - w) * np.log(sigmas[k - 1]) + w * np.log(sigmas[k])))


def summary(r: dict) -> dict:
    s, std = r["sigmas"], r["post_std"]
    i = int(np.argmax(r["denoiser_error"]))
    return {
        "denoiser_error_at_post_std": at(s, r["denoiser_error"], std),
        "denoiser_error_max": float(r["denoiser_error"][i]),
        "denoiser_error_argmax_sigma": float(s[i]),
        "eps_rel_error_at_post_std": at(s, r["eps_rel_error"], std),
        "eps_rel_error_median_above_post_std": float(np.median(r["eps_rel_error"][s >= std])),
        "ode_std_ratio_network_above_post_std": at(r["ode_sigmas"], r["ode_std_ratio"], std),
        "half_excess_width_above_sigma": half_width_sigma(r),
    }


def print_table(rows: list[dict[str, str]]) -> None:
    widths = {k: max(len(k), *(len(row[k]) for row in rows)) for k in rows[0]}
    print("  ".join(k.rjust(w) for k, w in widths.items()))
    for row in rows:
        print("  ".join(v.rjust(widths[k]) for k, v in row.items()))


def print_tables(results: list[dict]) -> None:
    """Per run: the summary (D: denoiser error in posterior stds; ε: relative ε error; ODE: this Heun's std
    ratio, the run's own, with the network above the posterior std only; half@σ: half_width_sigma); then per
    σ, the denoiser error | relative ε error of every run."""
    rows = []
    for r in results:
        x, ode = r["summary"], r["run_ode_std_ratio"]
        rows.append(
            {
                "run": r["run"],
                "noise": f"{r['noise']:g}",
                "net": r["network"],
                "σ_d": sigma_data_label(r) if r["sigma_data"] else "-",
                "post std": f"{r['post_std']:.4f}",
                "D@std": f"{x['denoiser_error_at_post_std']:.3f}",
                "max D": f"{x['denoiser_error_max']:.2f}",
                "at σ": f"{x['denoiser_error_argmax_sigma']:.3g}",
                "ε@std": f"{x['eps_rel_error_at_post_std']:.3f}",
                "ε>std": f"{x['eps_rel_error_median_above_post_std']:.3f}",
                "ODE": f"{r['ode_std_ratio'][-1]:.3f}",
                "run ODE": f"{ode:.3f}" if ode is not None else "-",
                "net>std": f"{x['ode_std_ratio_network_above_post_std']:.3f}",
                "half@σ": f"{x['half_excess_width_above_sigma']:.3g}",
                "self ε": f"{r['self_check_eps']:.1e}",
                "self ODE": f"{r['self_check_ode']:.3f}",
            }
        )
    print_table(rows)
    print("\nper σ: denoiser error σ·RMS(ε̂ - ε*) / posterior std | RMS(ε̂ - ε*) / RMS(ε*)")
    print_table(
        [
            {"σ": f"{sigma:.3g}"}
            | {r["run"]: f"{r['denoiser_error'][k]:.3f} | {r['eps_rel_error'][k]:.3f}" for r in results}
            for k, sigma in enumerate(results[0]["sigmas"])
        ]
    )


def sigma_data_label(r: dict) -> str:
    """The preconditioning's σ_d, and the loss weight's where it differs (the early runs of the README)."""
    loss = r["loss"]["sigma_data"]
    return f"{r['sigma_data']:g}" + (f" (loss {loss:g})" if loss != r["sigma_data"] else "")


def label(r: dict) -> str:
    extra = ""
    if r["network"] == "EDM":
        extra = f", σ_d {sigma_data_label(r)}"
        if r["loss"].get("p_mean", -1.2) != -1.2:
            extra += f", P_mean {r['loss']['p_mean']:g}"
    if r["lr_scheduler"]:
        extra += f", {r['lr_scheduler']} lr {r['lr']:g}"
    return f"{r['run']}: {r['network']}, noise {r['noise']:g}{extra}"


def plot(results: list[dict], path: Path) -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    seen: dict = {}
    for r in results:
        group = (r["noise"], r["network"])
        seen[group] = seen.get(group, -1) + 1
        style = {
            "color": NOISE_COLOURS.get(r["noise"], "k"),
            "ls": "-" if r["network"] == "EDM" else "--",
            "marker": MARKERS[seen[group] % len(MARKERS)],
            "ms": 4,
            "label": label(r),
        }
        axes[0].loglog(r["sigmas"], r["denoiser_error"], **style)
        axes[1].loglog(r["sigmas"], r["eps_rel_error"], **style)
        axes[2].semilogx(r["ode_sigmas"], r["ode_std_ratio"], **style)
    for noise, colour in NOISE_COLOURS.items():
        for std in {r["post_std"] for r in results if r["noise"] == noise}:
            for ax in axes:
                ax.axvline(std, color=colour, lw=1, ls=":")
    axes[0].axhline(1, color="k", lw=0.6)
    axes[0].set_ylabel("σ · RMS(ε̂ − ε*) / posterior std   (denoiser error)")
    axes[1].set_ylabel("RMS(ε̂ − ε*) / RMS(ε*)")
    axes[2].axhline(1, color="k", lw=0.6)
    axes[2].set_ylabel("ODE std ratio: network above σ, exact score below")
    for ax in axes[:2]:
        ax.set_xlabel("σ = s/m (normalised units)")
    axes[2].set_xlabel("σ where the network hands over to the exact score")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Learned ε against the exact conditional ε, linear–Gaussian check (dotted: RMS posterior std per "
        "noise level; solid: EDM-preconditioned, dashed: plain ε-MLP)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ckpts", nargs="*", type=Path, help="checkpoints of diffinv.train on the exact check")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for score_error.{png,json}")
    parser.add_argument("--replot", action="store_true", help="redraw score_error.png from its json only")
    args = parser.parse_args(argv)
    if args.replot:
        results = json.loads((args.out / "score_error.json").read_text())["runs"]
        print(plot(results, args.out / "score_error.png"))
        return
    if not args.ckpts:
        parser.error("give the checkpoints to measure (or --replot)")
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = [run_one(ckpt) for ckpt in args.ckpts]
    results.sort(key=lambda r: (r["noise"], r["network"] != "EDM", r["run"]))
    for r in results:
        r["summary"] = summary(r)
    print_tables(results)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {"n_measurements": N_MEASUREMENTS, "n_draws": N_DRAWS, "n_sigmas": N_SIGMAS,
                "heun_steps": HEUN_STEPS, "seed": SEED}  # fmt: skip
    runs = [{k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in r.items()} for r in results]
    write_json(args.out / "score_error.json", {"settings": settings, "runs": runs})
    print(plot(results, args.out / "score_error.png"))
    print(f"{len(results)} checkpoints in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
