"""The training engine on tiny test doubles: every kind trains, errors are clear, data order is
exact."""
import math

import pytest
import torch
from _train_doubles import (
    TinyClassModel,
    TinyDataset,
    TinyGAN,
    TinyModel,
    TinyRebalancedModel,
    one_thread,
)

import colorlab.data as cd
import colorlab.models as cm
from colorlab import viz
from colorlab.train import History, NonFiniteLossError, pick_device, seed_everything, train
from colorlab.train.losses import chroma_excess
from colorlab.train.runtime import BatchOrder, Precision


@pytest.fixture(autouse=True)
def quantize_module(monkeypatch):
    one_thread(monkeypatch)


MODELS = {"regression": TinyModel, "classification": TinyClassModel,
          "class-rebal": TinyRebalancedModel, "gan": TinyGAN}


def fit(make, steps=6, seed=0, data=None, **kw):
    seed_everything(seed)
    model = make()
    kw.setdefault("progress", False)
    history = train(model, data or TinyDataset(), steps, batch_size=4, seed=seed, log_every=2, **kw)
    return model, history


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_kind_trains_with_finite_losses(name):
    model, history = fit(MODELS[name], steps=4)
    assert [row["step"] for row in history] == [2, 4]
    assert model.config["image_size"] == TinyDataset().size   # the training size, adopted
    assert all(math.isfinite(v) for row in history for k, v in row.items() if k != "step")
    assert not model.training  # left in eval mode, ready to colorize


@pytest.mark.parametrize("name", sorted(MODELS))
def test_all_grey_batch_gives_no_nan(name):
    _, history = fit(MODELS[name], steps=2, data=TinyDataset(grey=True))
    assert math.isfinite(history.last("loss"))


def test_regression_loss_goes_down():
    _, history = fit(TinyModel, steps=60, lr=1e-2)
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]


def test_same_seed_same_weights_other_seed_differs():
    a, _ = fit(TinyModel, seed=3)
    b, _ = fit(TinyModel, seed=3)
    c, _ = fit(TinyModel, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def test_nogan_pretraining_leaves_discriminator_alone_then_adversarial():
    seed_everything(0)
    gan = TinyGAN()
    d0 = [p.clone() for p in gan.discriminator.parameters()]
    history = train(gan, TinyDataset(), 4, batch_size=4, pretrain_steps=4, progress=False,
                    log_every=2)
    assert all(torch.equal(a, b) for a, b in zip(d0, gan.discriminator.parameters()))
    assert all("d_loss" not in row for row in history)
    _, history = fit(TinyGAN, steps=4, pretrain_steps=2)
    assert "d_loss" not in history[0] and {"d_loss", "g_adv", "g_l1"} <= set(history[1])


def test_chroma_excess_costs_only_colour_far_above_the_truth():
    real = torch.zeros(1, 2, 4, 4)
    real[:, 0, :2] = 0.3                                   # a coloured top half, a grey bottom
    fake = real.clone().requires_grad_(True)
    assert chroma_excess(fake, real, 0.2).item() == 0      # the truth itself costs nothing
    blob = real.clone()
    blob[:, 1, 3, 3] = 0.5                                 # a blob of 0.5 on a grey pixel
    blob[:, 1, 0, 0] = 0.1                                 # mild extra colour where there is some
    blob.requires_grad_(True)
    cost = chroma_excess(blob, real, 0.2)
    assert cost.item() == pytest.approx((0.5 - 0.2) ** 2 / 16)
    cost.backward()
    grad = blob.grad.norm(dim=1)[0]
    assert grad[3, 3] > 0 and grad.sum() == grad[3, 3]    # only the blob is pushed back


def test_chroma_penalty_is_logged_and_checked():
    _, history = fit(TinyGAN, steps=2, chroma_penalty=100.0, chroma_margin=10.0)
    assert math.isfinite(history.last("g_chroma"))
    _, plain = fit(TinyGAN, steps=2)
    assert "g_chroma" not in plain[-1]
    _, grey = fit(TinyGAN, steps=2, data=TinyDataset(grey=True), chroma_penalty=100.0)
    assert math.isfinite(grey.last("loss"))                # |ab| = 0 gives no NaN gradient
    with pytest.raises(ValueError, match="chroma_penalty must be >= 0"):
        fit(TinyGAN, steps=1, chroma_penalty=-1.0)


def test_class_rebalancing_weights_change_the_loss_and_prior_option_sets_them():
    _, plain = fit(TinyRebalancedModel, steps=2, rebalance=False)
    _, rebal = fit(TinyRebalancedModel, steps=2)
    assert plain.last("loss") != pytest.approx(rebal.last("loss"))
    Q = TinyClassModel().quantizer.Q
    model, _ = fit(TinyRebalancedModel, steps=2, prior=torch.full((Q,), 1 / Q))
    assert model.class_weights.shape == (Q,)
    assert not torch.allclose(model.class_weights, torch.linspace(0.5, 1.5, Q))  # set from it


class Poisoned(TinyModel):
    """Returns NaN from the 4th forward call on."""

    calls = 0

    def forward(self, L):
        Poisoned.calls += 1
        out = super().forward(L)
        return out * float("nan") if Poisoned.calls >= 4 else out


def test_nan_loss_stops_with_the_step_and_the_loss_named():
    Poisoned.calls = 0
    with pytest.raises(NonFiniteLossError,
                       match=r"'loss' loss is nan at step 4 of 10 \(regression"):
        fit(Poisoned, steps=10)


@pytest.mark.parametrize("kw, match", [
    ({"steps": 0}, "steps must be a positive integer"),
    ({"batch_size": -1}, "batch_size must be a positive integer"),
    ({"checkpoint_every": 2}, "needs out=PATH"),
    ({"seed": -1}, "seed must be a non-negative"),
    ({"lr": 0.0}, "lr must be positive"),
    ({"device": "tpu"}, "unknown device|unsupported device"),
    ({"schedule": "step"}, "schedule must be"),
])
def test_bad_arguments_give_clear_errors(kw, match):
    args = {"steps": 2, "batch_size": 2, **kw}
    with pytest.raises(ValueError, match=match):
        train(TinyModel(), TinyDataset(), args.pop("steps"), progress=False, **args)


def test_unknown_option_and_unknown_kind():
    with pytest.raises(TypeError, match="unknown option.*pretrain_steps"):
        train(TinyModel(), TinyDataset(), 1, pretrain_steps=3, progress=False)
    model = TinyModel()
    model.kind = "diffusion"
    with pytest.raises(ValueError, match="model.kind must be one of"):
        train(model, TinyDataset(), 1, progress=False)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")


def test_batch_order_is_a_permutation_per_epoch_and_ranks_partition_the_global_batch():
    order = BatchOrder(n=12, batch_size=4, seed=0)
    epoch = torch.cat([order.indices(s) for s in range(3)])
    assert sorted(epoch.tolist()) == list(range(12))
    assert not torch.equal(torch.cat([order.indices(s) for s in range(3, 6)]), epoch)
    ranks = [BatchOrder(12, 2, 0, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(torch.cat([r.indices(1) for r in ranks]), order.indices(1))
    big = BatchOrder(n=3, batch_size=8, seed=1).indices(0)  # batch larger than the data set
    assert big.shape == (8,) and set(big.tolist()) == {0, 1, 2}


def test_mixed_precision_choice_and_bf16_on_cpu_runs():
    assert Precision(None, torch.device("cpu")).dtype is None
    assert Precision(True, torch.device("cpu")).dtype == torch.bfloat16
    _, history = fit(TinyModel, steps=2, amp=True, channels_last=True)
    assert math.isfinite(history.last("loss"))


def test_cosine_schedule_decays_lr():
    _, history = fit(TinyModel, steps=6, schedule="cosine")
    assert history[-1]["lr"] < history[0]["lr"]


def test_history_columns_and_plot():
    import matplotlib
    matplotlib.use("Agg")
    history = History([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0, "d_loss": 0.5}])
    assert history.to_dict() == {"step": [1, 2], "loss": [2.0, 1.0], "d_loss": [None, 0.5]}
    assert history.last("d_loss") == 0.5 and history.last("nothing") is None
    fig = viz.training_curves(history, keys=("loss", "d_loss", "val_psnr"))
    assert [ax.get_title() for ax in fig.axes] == ["loss", "d_loss"]   # never-logged keys left out


@pytest.mark.parametrize("name", ["mse", "class", "class-rebal", "gan"])
def test_real_models_train_on_an_all_grey_batch_without_nan(name):
    grey = torch.rand(4, 1, 32, 32).expand(-1, 3, -1, -1).contiguous()
    data = cd.LabDataset.from_rgb(grey)
    seed_everything(0)
    model = cm.build(name)
    if hasattr(model, "set_prior"):
        model.set_prior(model.quantizer.prior(data))
    history = train(model, data, 2, batch_size=4, progress=False, log_every=1)
    assert all(math.isfinite(v) for row in history for v in row.values())
