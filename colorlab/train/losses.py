"""One training step per model kind: regression, classification, GAN (with the NoGAN recipe).

Each task owns its optimisers (and schedulers) and turns a batch ``L (B,1,H,W)`` in [0, 100],
``ab (B,2,H,W)`` in Lab units into one optimisation step, returning its losses. The engine
(:func:`colorlab.train.train`) handles devices, precision, data order, logging and checkpoints.

Default optimisers (Adam throughout; override ``lr`` with ``train(..., lr=...)``):

==============  =========================================================================
kind            losses and defaults
==============  =========================================================================
regression      MSE between ``model(L)`` and normalised ab (ab / 110); lr 1e-3.
classification  ab avg-pooled to the logits' size, soft-encoded (``k=5``, ``sigma=5``), soft
                cross-entropy; class-rebalancing pixel weights when the model has
                ``class_weights``; lr 3e-4, betas (0.9, 0.99) (Zhang et al. use 3e-5 for the
                32M-parameter net; small course nets train well at 3e-4).
gan             pix2pix: ``discriminator(L, ab / 110)`` with BCE-with-logits, G with adversarial
                + 100 x L1; Adam 2e-4, betas (0.5, 0.999) for both (or ``model.recipe``).
                ``pretrain_steps`` of L1-only generator training come first (NoGAN / DeOldify
                recipe). ``chroma_penalty`` w adds w x mean(relu(|fake| - |real| - m) ** 2)
                (normalised ab; m = ``chroma_margin`` / 110, default 30 Lab units): a cost
                on colour far more saturated than the truth, the GAN's blobs.
hints           regression's MSE, given hints simulated from the true ab (``p_none``, ``p_stop``).
==============  =========================================================================

Options (``train(..., **kind_options)``): ``schedule=None|"cosine"``, ``weight_decay``; for
classification ``k``, ``sigma``, ``rebalance`` (default True), ``prior`` (``(Q,)``, passed to
``model.set_prior`` first); for GAN ``l1_weight`` (100), ``pretrain_steps`` (0),
``chroma_penalty`` (0), ``chroma_margin`` (30).

Examples
--------
>>> task = make_task(model, steps=100, lr=None)         # doctest: +SKIP
>>> losses = task.step(0, L, ab, autocast, scaler)     # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from colorlab.color import AB_SCALE, normalize_ab
from colorlab.hints import simulate_hints

__all__ = ["make_task", "RegressionTask", "ClassificationTask", "GanTask", "HintTask",
           "chroma_excess"]


def _update(loss, optimizer, scaler) -> None:
    """zero_grad, (scaled) backward, (scaled) step. The engine calls ``scaler.update()`` once."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)


@contextlib.contextmanager
def _frozen(module: nn.Module):
    """Temporarily stop gradients into ``module``'s parameters."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class _Task:
    """Shared plumbing: optimisers per trained module, optional schedule, module wrapping."""

    kind = ""
    lr = 1e-3
    betas = (0.9, 0.999)
    options: tuple = ()

    def __init__(self, model, steps: int, lr=None, schedule=None, weight_decay=0.0, **opts):
        unknown = set(opts) - set(self.options)
        if unknown:
            raise TypeError(
                f"train(): unknown option(s) {sorted(unknown)} for a {self.kind} model; "
                f"allowed: {sorted(self.options + ('schedule', 'weight_decay'))}")
        if schedule not in (None, "cosine"):
            raise ValueError(f"train(): schedule must be None or 'cosine', got {schedule!r}")
        self.model = model
        self.lr = float(lr if lr is not None else self.lr)
        if not self.lr > 0:
            raise ValueError(f"train(): lr must be positive, got {lr!r}")
        self.configure(**opts)
        self.optimizers = {name: torch.optim.Adam(m.parameters(), lr=self.lr, betas=self.betas,
                                                  weight_decay=weight_decay)
                           for name, m in self.modules().items()}
        self.schedulers = {}
        if schedule == "cosine":
            self.schedulers = {name: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
                               for name, opt in self.optimizers.items()}
        self.options_used = {"schedule": schedule, "weight_decay": weight_decay,
                             **{k: v for k, v in opts.items() if k != "prior"}}
        self.run = self.runnable()

    def configure(self, **opts) -> None:
        """Read the kind-specific options."""

    def modules(self) -> dict:
        """The trained modules by name (each gets one optimiser)."""
        return {"model": self.model}

    def runnable(self) -> dict:
        """The modules the steps call, by name (default: :meth:`modules` themselves)."""
        return self.modules()

    def wrap(self, fn) -> None:
        """Replace the modules used in steps by ``fn(module)`` (DDP, torch.compile)."""
        self.run = {name: fn(m) for name, m in self.runnable().items()}

    def current_lr(self) -> float:
        return float(next(iter(self.optimizers.values())).param_groups[0]["lr"])

    def inputs(self, L, ab) -> tuple:
        """What the model is called with for a training batch (default: L alone)."""
        return (L,)

    def step(self, step, L, ab, autocast, scaler) -> dict:
        """One optimisation step on a batch; returns ``{"loss": detached scalar}``."""
        with autocast():
            out = self.run["model"](*self.inputs(L, ab))
        loss = self.loss(out.float(), ab.float())
        _update(loss, self.optimizers["model"], scaler)
        return {"loss": loss.detach()}

    def validation_loss(self, out, ab):
        """The training loss of ``out = model(L)`` against ``ab`` (Lab units), without an update."""
        return self.loss(out, ab)

    def after_step(self) -> None:
        with warnings.catch_warnings():  # a GAN's D optimiser does not step during NoGAN warm-up
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            for s in self.schedulers.values():
                s.step()


class RegressionTask(_Task):
    """MSE on normalised ab: ``mean((model(L) - ab / 110) ** 2)``."""

    kind = "regression"

    def loss(self, pred, ab):
        """``pred (B,2,H,W)`` normalised ab vs ``ab (B,2,H,W)`` in Lab units -> MSE."""
        return F.mse_loss(pred, normalize_ab(ab))


class HintTask(RegressionTask):
    """The hint model (``build("hints", ...)``): MSE on ab given hints simulated from the truth
    (:func:`colorlab.hints.simulate_hints`, drawn from torch's global generator, which
    training checkpoints save, so resume is exact). Options ``p_none`` (share of photos with no
    hints, 0.5) and ``p_stop`` (the geometric number of points' stopping probability, 1/8)."""

    kind = "hints"
    options = ("p_none", "p_stop")

    def configure(self, p_none=0.5, p_stop=1 / 8) -> None:
        self.p_none, self.p_stop = float(p_none), float(p_stop)
        if not (0 <= self.p_none <= 1 and 0 < self.p_stop <= 1):
            raise ValueError(f"train(): p_none must be in [0, 1] and p_stop in (0, 1], got "
                             f"{p_none!r}, {p_stop!r}")

    def inputs(self, L, ab) -> tuple:
        return L, simulate_hints(ab, p_none=self.p_none, p_stop=self.p_stop)


class ClassificationTask(_Task):
    """Soft-encoded cross-entropy on ab bins at the logits' resolution (optionally rebalanced)."""

    kind = "classification"
    lr = 3e-4
    betas = (0.9, 0.99)
    options = ("k", "sigma", "rebalance", "prior")

    def configure(self, k=5, sigma=5.0, rebalance=True, prior=None) -> None:
        from colorlab.quantize import soft_cross_entropy
        self.soft_cross_entropy = soft_cross_entropy
        self.k, self.sigma, self.rebalance = int(k), float(sigma), bool(rebalance)
        if prior is not None:
            self.model.set_prior(torch.as_tensor(prior))

    def pixel_weights(self, ab_small):
        """``(B, H, W)`` weights of each pixel's nearest bin (the model's ``pixel_weights``), or
        None without class weights."""
        if not self.rebalance or getattr(self.model, "class_weights", None) is None:
            return None
        return self.model.pixel_weights(ab_small)

    def loss(self, logits, ab):
        """``logits (B,Q,h,w)`` vs ``ab (B,2,H,W)`` avg-pooled to ``(h, w)`` and soft-encoded."""
        ab_small = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
        idx, w = self.model.quantizer.soft_encode(ab_small, k=self.k, sigma=self.sigma)
        return self.soft_cross_entropy(logits, idx, w, pixel_weights=self.pixel_weights(ab_small))


class GanTask(_Task):
    """pix2pix: ``discriminator(L, ab / 110)`` PatchGAN logits with BCE, generator adversarial +
    ``l1_weight`` x L1; the first ``pretrain_steps`` train the generator on L1 alone (NoGAN).
    Defaults come from ``model.recipe`` when the model has one (pix2pix: 100, 2e-4, (0.5, 0.999)).
    """

    kind = "gan"
    lr = 2e-4
    betas = (0.5, 0.999)
    options = ("l1_weight", "pretrain_steps", "chroma_penalty", "chroma_margin")

    def __init__(self, model, steps, lr=None, **opts):
        recipe = dict(getattr(model, "recipe", {}) or {})
        self.lr, self.betas = recipe.get("lr", self.lr), tuple(recipe.get("betas", self.betas))
        self.default_l1 = float(recipe.get("l1_weight", 100.0))
        super().__init__(model, steps, lr=lr, **opts)

    def configure(self, l1_weight=None, pretrain_steps=0, chroma_penalty=0.0,
                  chroma_margin=30.0) -> None:
        self.l1_weight = self.default_l1 if l1_weight is None else float(l1_weight)
        self.pretrain_steps = int(pretrain_steps)
        self.chroma_penalty, self.chroma_margin = float(chroma_penalty), float(chroma_margin)
        for name, value in (("pretrain_steps", self.pretrain_steps),
                            ("chroma_penalty", self.chroma_penalty),
                            ("chroma_margin", self.chroma_margin)):
            if not value >= 0:
                raise ValueError(f"train(): {name} must be >= 0, got {value!r}")

    def modules(self) -> dict:
        return {"generator": self.model.generator, "discriminator": self.model.discriminator}

    def runnable(self) -> dict:
        mods = self.modules()
        return {**mods, "discriminator": _SeparateCalls(mods["discriminator"])}

    def validation_loss(self, out, ab):
        """The generator's L1 term (normalised ab, unweighted) of ``out = model(L)``."""
        return F.l1_loss(out, normalize_ab(ab))

    def step(self, step, L, ab, autocast, scaler) -> dict:
        G, D = self.run["generator"], self.run["discriminator"]
        real = normalize_ab(ab).float()
        with autocast():
            fake = G(L)
        fake = fake.float()
        l1 = F.l1_loss(fake, real)
        if step < self.pretrain_steps:  # NoGAN: the L1 term alone (same scale as later)
            loss = self.l1_weight * l1
            _update(loss, self.optimizers["generator"], scaler)
            return {"loss": loss.detach(), "g_l1": l1.detach()}
        # Real and fake pairs go through the discriminator in separate calls: with BatchNorm, one
        # call on cat([real, fake]) would normalise each with the statistics of the mixed batch, a
        # cue D can win on while G, scored on fakes alone, learns nothing from it. Both calls sit in
        # one module call (_SeparateCalls), so DDP sees one forward and one backward per step.
        with autocast():
            d_real, d_fake = (x.float() for x in D(L, real, fake.detach()))
        d_loss = 0.5 * (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                        + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        opt_d = self.optimizers["discriminator"]
        opt_d.zero_grad(set_to_none=True)
        scaler.scale(d_loss).backward()
        scaler.step(opt_d)
        # The generator's adversarial term goes through the plain (frozen) discriminator: no
        # discriminator gradients are wanted, so none need averaging across processes.
        plain_d = self.model.discriminator
        with _frozen(plain_d), autocast():
            g_logits = plain_d(L, fake).float()
        g_adv = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        g_loss = g_adv + self.l1_weight * l1
        logged = {"g_adv": g_adv, "g_l1": l1, "d_loss": d_loss}
        if self.chroma_penalty:
            logged["g_chroma"] = chroma_excess(fake, real, self.chroma_margin / AB_SCALE)
            g_loss = g_loss + self.chroma_penalty * logged["g_chroma"]
        _update(g_loss, self.optimizers["generator"], scaler)
        return {"loss": g_loss.detach(), **{k: v.detach() for k, v in logged.items()}}


def chroma_excess(fake, real, margin):
    """``mean(relu(|fake| - |real| - margin) ** 2)`` over pixels: how far the predicted chroma
    exceeds the true chroma by more than ``margin`` (all in the same ab units).

    Parameters
    ----------
    fake, real : Tensor
        ``(B, 2, H, W)`` predicted and true ab.
    margin : float
        Excess allowed for free; only colour more saturated than the truth by more than this
        costs anything, so plausible colour stays free and blobs on grey surfaces do not.

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> real = torch.zeros(1, 2, 2, 2)
    >>> fake = torch.zeros(1, 2, 2, 2); fake[0, 0, 0, 0] = 0.5
    >>> round(float(chroma_excess(fake, real, margin=0.3)), 4)   # (0.5 - 0.3) ** 2 / 4 pixels
    0.01
    """
    excess = F.relu(fake.norm(dim=1) - real.norm(dim=1) - margin)
    return (excess ** 2).mean()


class _SeparateCalls(nn.Module):
    """A discriminator called on real and on fake pairs separately, as one module call."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.d = discriminator

    def forward(self, L, real, fake):
        return self.d(L, real), self.d(L, fake)


_TASKS = {t.kind: t for t in (RegressionTask, ClassificationTask, GanTask, HintTask)}


def make_task(model, steps: int, lr=None, **options) -> _Task:
    """The task for ``model.kind`` ("regression", "classification" or "gan").

    Parameters
    ----------
    model : ColorizationModel
        Anything with ``.kind``; GAN models also need ``.generator`` and ``.discriminator``.
    steps : int
        Total steps (for the cosine schedule).
    lr : float, optional
        Learning rate; default per kind (module docstring).
    **options
        Kind options (module docstring); unknown names raise ``TypeError``.
    """
    kind = getattr(model, "kind", None)
    if kind not in _TASKS:
        raise ValueError(f"train(): model.kind must be one of {sorted(_TASKS)}, got {kind!r}")
    return _TASKS[kind](model, steps=steps, lr=lr, **options)
