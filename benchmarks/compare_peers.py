"""Our speed against the peers', side by side in one run (issue 18's table), for the peers installed.

    .venv/bin/python -m pip install -e ".[bench]"       # the optional peers (diffusers)
    .venv/bin/python benchmarks/compare_peers.py          # 1 thread, minimum of 9 interleaved repeats
    .venv/bin/python benchmarks/compare_peers.py --repeats 5 --only livechart

ratio = peer time / our time (> 1: we are faster). Every pair runs interleaved (ours, peer, ours,
peer, ...) and each side keeps its minimum, so load from other processes hits both alike. A peer
that is not installed is skipped with a message. Rows:

  fa / dfa     one training step vs BioTorch ``BioModule(mode="fa"/"dfa")`` (not in the ``bench``
               extra: see pyproject.toml; measured only if BioTorch is importable).
  heun         vs k-diffusion ``sample_heun`` (left out of the extra: needs torchvision and clip).
  euler        ``toolkit.diffusion.samplers.sample(..., "euler")`` vs diffusers ``EDMEulerScheduler``,
               the same network F and EDM preconditioning, 18 steps, 16 samples of 1x32x32.
  blackbox     ``blackbox_assignment`` forward + backward on 144 problems of 30 x 30 vs the
               blackbox-backprop pattern (Vlastelica et al. 2020) around scipy, written here:
               forward = one ``linear_sum_assignment`` per problem, backward = a perturbed solve.
  livechart    one-row push at 200 / 2k / 20k rows drawn, and a full replace, vs re-assigning
               ``alt.JupyterChart.chart``; both widgets' messages are serialised with the kernel's
               own JSON packer, as a kernel would. Bytes per push are printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

SECTIONS = ("fa", "heun", "euler", "blackbox", "livechart")


def interleaved_min(fns: dict, repeats: int, number: int = 1) -> dict:
    """{name: min over repeats of the mean seconds per call}, the callables run interleaved."""
    for fn in fns.values():
        fn()  # warm-up
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / number)
    return best


def row(comparison: str, ours: float, peer: float, note: str = "") -> dict:
    r = {
        "comparison": comparison,
        "ours_ms": 1e3 * ours,
        "peer_ms": 1e3 * peer,
        "ratio": peer / ours,
        "note": note,
    }
    print(f"{comparison:<58}{r['ours_ms']:>10.3f}{r['peer_ms']:>10.3f}{r['ratio']:>8.2f}  {note}", flush=True)
    return r


def skip(comparison: str, why: str) -> None:
    print(f"{comparison:<58}{'skipped':>28}  {why}", flush=True)


# -- feedback alignment vs BioTorch -------------------------------------------------------------------------
def bench_feedback(repeats: int) -> list[dict]:
    try:
        import biotorch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken torchvision underneath (RuntimeError)
        for name in ("FA step vs BioTorch fa", "DFA (srbp) step vs BioTorch dfa"):
            skip(
                name,
                f"BioTorch not importable ({type(exc).__name__}: {str(exc)[:60]}); "
                "not in the bench extra, see pyproject.toml",
            )
        return []
    import warnings

    from biotorch.module.biomodule import BioModule

    # BioTorch's DFA layers use torch's deprecated non-full backward hooks: say it once, not per step
    warnings.filterwarnings("ignore", message="Using a non-full backward hook", category=FutureWarning)

    from toolkit.feedback import FeedbackMLP

    out = []
    for hidden in ([256] * 3, [1000] * 3):
        sizes = [784, *hidden, 10]
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(128, 784, generator=g), torch.randint(0, 10, (128,), generator=g)
        for rule, mode in (("fa", "fa"), ("srbp", "dfa")):
            ours_net = FeedbackMLP(sizes, rule, activation="tanh", seed=0)
            layers = []
            for k, lin in enumerate(ours_net.layers):  # the same forward weights for the peer
                layers += [torch.nn.Linear(lin.in_features, lin.out_features)] + (
                    [torch.nn.Tanh()] if k < len(sizes) - 2 else []
                )
                layers[-1 if k == len(sizes) - 2 else -2].load_state_dict(lin.state_dict())
            with contextlib.redirect_stdout(io.StringIO()):  # BioTorch prints a conversion report
                peer_net = BioModule(torch.nn.Sequential(*layers), mode=mode, output_dim=10)
            note = ""
            if mode == "fa":  # same feedback too: B_h = (weight_backward of layer h+1)ᵀ
                peer_linears = [m for m in peer_net.modules() if hasattr(m, "weight_backward")]
                with torch.no_grad():
                    for b, lin in zip(ours_net.feedback, peer_linears[1:]):
                        lin.weight_backward.copy_(b.T)
                ours_net.compute_gradients(x, y)
                torch.nn.functional.cross_entropy(peer_net(x), y).backward()
                gap = max(
                    (a.weight.grad - b.weight.grad).abs().max().item()
                    for a, b in zip(ours_net.layers, peer_linears)
                )
                note = f"gradients agree to {gap:.0e}"
            ours_opt = torch.optim.Adam(ours_net.parameters(), lr=1e-4)
            peer_opt = torch.optim.Adam([p for p in peer_net.parameters() if p.requires_grad], lr=1e-4)

            def ours(net=ours_net, opt=ours_opt):
                opt.zero_grad()
                net.compute_gradients(x, y)
                opt.step()

            def peer(net=peer_net, opt=peer_opt, mode=mode):
                opt.zero_grad()
                kwargs = (
                    {"targets": y, "loss_function": torch.nn.functional.cross_entropy}
                    if mode == "dfa"
                    else {}
                )
                torch.nn.functional.cross_entropy(net(x, **kwargs), y).backward()
                opt.step()

            best = interleaved_min({"ours": ours, "peer": peer}, repeats, number=3)
            name = "FA" if mode == "fa" else "DFA (srbp)"
            out.append(
                row(f"{name} step 784-{hidden[0]}x3-10 vs BioTorch {mode}", best["ours"], best["peer"], note)
            )
    return out


def bench_heun(repeats: int) -> list[dict]:
    try:
        import k_diffusion  # noqa: F401
    except ImportError:
        skip(
            "Heun 17 NFE vs k-diffusion sample_heun", "k-diffusion not installed (needs torchvision and clip)"
        )
        return []
    skip("Heun 17 NFE vs k-diffusion sample_heun", "k-diffusion imports, but no driver for it here yet")
    return []


# -- Euler vs diffusers' EDMEulerScheduler ------------------------------------------------------------------
class TinyF(torch.nn.Module):
    """A small conv net F(c_in x, c_noise): the same network for both samplers."""

    def __init__(self, ch: int = 32) -> None:
        super().__init__()
        self.inp = torch.nn.Conv2d(1, ch, 3, padding=1)
        self.mid = torch.nn.Conv2d(ch, ch, 3, padding=1)
        self.out = torch.nn.Conv2d(ch, 1, 3, padding=1)
        self.emb = torch.nn.Linear(1, ch)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.silu(
            self.inp(x) + self.emb(c_noise.reshape(-1, 1).to(x.dtype))[:, :, None, None]
        )
        return self.out(torch.nn.functional.silu(self.mid(h)))


def bench_euler(repeats: int, steps: int = 18) -> list[dict]:
    try:
        from diffusers import EDMEulerScheduler
    except ImportError:
        skip("Euler vs diffusers EDMEulerScheduler", "diffusers not installed (pip install -e '.[bench]')")
        return []
    from toolkit.diffusion.edm import EDMDenoiser
    from toolkit.diffusion.samplers import karras_sigmas, sample

    torch.manual_seed(0)
    net = TinyF().eval()
    denoiser = EDMDenoiser(net, sigma_data=0.5)
    noise = torch.randn(16, 1, 32, 32)
    sigmas = karras_sigmas(steps)
    sched = EDMEulerScheduler(
        sigma_min=0.002,
        sigma_max=80.0,
        sigma_data=0.5,
        rho=7.0,
        prediction_type="epsilon",
        final_sigmas_type="zero",
    )

    def ours() -> torch.Tensor:
        with torch.no_grad():
            return sample(denoiser, noise, sigmas, "euler")

    def peer() -> torch.Tensor:
        sched.set_timesteps(steps)
        x = noise * sigmas[0].float()
        with torch.no_grad():
            for t in sched.timesteps:
                inp = sched.scale_model_input(x, t)  # c_in x; t is already c_noise = ln(σ)/4
                x = sched.step(net(inp, t.expand(x.shape[0])), t, x).prev_sample
        return x

    gap = (ours() - peer()).abs().max().item()
    best = interleaved_min({"ours": ours, "peer": peer}, repeats)
    return [
        row(
            f"Euler {steps} NFE vs diffusers EDMEulerScheduler",
            best["ours"],
            best["peer"],
            f"samples agree to {gap:.1e}",
        )
    ]


# -- blackbox assignment vs the blackbox-backprop pattern around scipy
# ----------------------------------------
def _solve_each(cost: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    y = np.zeros_like(cost)
    for b in range(cost.shape[0]):
        r, c = linear_sum_assignment(cost[b])
        y[b, r, c] = 1.0
    return y


class PeerBlackbox(torch.autograd.Function):
    """The peer's pattern: numpy solver per problem forward; backward y(c + λ g) per problem."""

    @staticmethod
    def forward(ctx, cost, lam):  # type: ignore[override]
        c = cost.detach().cpu().numpy()
        y = _solve_each(c)
        ctx.lam, ctx.cost, ctx.y = lam, c, y
        return torch.from_numpy(y).to(cost.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        y_perturbed = _solve_each(ctx.cost + ctx.lam * grad.detach().cpu().numpy())
        return torch.from_numpy(-(ctx.y - y_perturbed) / ctx.lam).to(grad.dtype), None


def bench_blackbox(repeats: int, batch: int = 144, n: int = 30, lam: float = 5.0) -> list[dict]:
    from toolkit.tracking.assignment import blackbox_assignment

    g = torch.Generator().manual_seed(0)
    cost = torch.rand(batch, n, n, generator=g, dtype=torch.float64)
    weight = torch.randn(batch, n, n, generator=g, dtype=torch.float64)

    def run(fn):
        c = cost.clone().requires_grad_(True)
        (fn(c) * weight).sum().backward()
        return c.grad

    ours = lambda: run(lambda c: blackbox_assignment(c, lam))  # noqa: E731
    peer = lambda: run(lambda c: PeerBlackbox.apply(c, lam))  # noqa: E731
    gap = (ours() - peer()).abs().max().item()
    best = interleaved_min({"ours": ours, "peer": peer}, repeats)
    return [
        row(
            f"blackbox_assignment fwd+bwd {batch} x {n} x {n} vs scipy pattern",
            best["ours"],
            best["peer"],
            f"gradients agree to {gap:.1e}",
        )
    ]


# -- LiveChart vs JupyterChart -----------------------------------------------------------------------------
class KernelWire:
    """Stands in for the kernel's comm: serialises each message with jupyter_client's JSON packer."""

    def __init__(self, widget) -> None:
        from jupyter_client.session import json_packer

        self.pack, self.bytes, self.count = json_packer, 0, 0
        widget.comm.send = self.send

    def send(self, data=None, metadata=None, buffers=None) -> None:
        self.bytes += len(self.pack(data))
        self.count += 1


def bench_livechart(repeats: int, sizes=(200, 2000, 20000)) -> list[dict]:
    import altair as alt
    import pandas as pd

    from toolkit.livechart import LiveChart

    alt.data_transformers.disable_max_rows()  # both sides draw up to 20k rows
    out = []

    def frame(n: int, shift: float = 0.0) -> pd.DataFrame:
        k = np.arange(n)
        return pd.DataFrame({"step": k, "metric": "loss", "value": np.exp(-k / 500) + shift, "run": "a"})

    def chart(df: pd.DataFrame):
        return alt.Chart(df).mark_line().encode(x="step:Q", y="value:Q", color="run:N")

    for n in sizes:
        # push: ours appends one row; the peer re-assigns a chart with one more row (prebuilt)
        live = LiveChart(chart(frame(n)), max_rows=100_000, min_interval=0.0)
        peer = alt.JupyterChart(chart(frame(n)))
        live_wire, peer_wire = KernelWire(live), KernelWire(peer)
        grown = [chart(frame(n + 1, shift=s)) for s in (0.0, 0.5)]
        state = {"k": 0}

        def push_ours():
            live.push({"step": n + state["k"], "metric": "loss", "value": 0.1, "run": "a"})
            state["k"] += 1

        def push_peer():
            state["k"] += 1
            peer.chart = grown[state["k"] % 2]

        best = interleaved_min({"ours": push_ours, "peer": push_peer}, repeats, number=3)
        per_ours = live_wire.bytes / max(live_wire.count, 1)
        per_peer = peer_wire.bytes / max(peer_wire.count, 1)
        out.append(
            row(
                f"LiveChart one-row push at {n} rows vs JupyterChart.chart",
                best["ours"],
                best["peer"],
                f"{per_ours / 1e3:.2f} kB vs {per_peer / 1e3:.1f} kB per push",
            )
        )

        # full replace: both get a new chart of n rows (two frames alternate, so data always change)
        live = LiveChart(chart(frame(n)), max_rows=100_000)
        peer = alt.JupyterChart(chart(frame(n)))
        KernelWire(live), KernelWire(peer)
        charts = [chart(frame(n, shift=s)) for s in (0.0, 0.5)]
        turn = {"ours": 0, "peer": 0}

        def replace_ours():
            turn["ours"] += 1
            live.chart = charts[turn["ours"] % 2]

        def replace_peer():
            turn["peer"] += 1
            peer.chart = charts[turn["peer"] % 2]

        best = interleaved_min(
            {"ours": replace_ours, "peer": replace_peer}, repeats, number=1 if n > 2000 else 3
        )
        out.append(
            row(f"LiveChart full replace at {n} rows vs JupyterChart.chart", best["ours"], best["peer"])
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    print(
        f"threads={args.threads}, minimum of {args.repeats} interleaved repeats; ratio = peer / ours (> 1: "
        "we are faster)"
    )
    print(f"{'comparison':<58}{'ours ms':>10}{'peer ms':>10}{'ratio':>8}  note")
    rows: list[dict] = []
    runners = {
        "fa": bench_feedback,
        "heun": bench_heun,
        "euler": bench_euler,
        "blackbox": bench_blackbox,
        "livechart": bench_livechart,
    }
    for name in SECTIONS:
        if name in args.only:
            try:
                rows += runners[name](args.repeats)
            except Exception as exc:  # one broken section must not hide the others' numbers
                skip(name, f"failed: {type(exc).__name__}: {exc}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
