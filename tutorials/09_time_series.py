# %% [markdown]
# # Lesson 9: time-series forecasting on real data -- against the baselines a forecaster would use
#
# matplotlib ships a small sample of real data with every installation: Google's daily stock
# prices from August 2004 to October 2008 (`goog.npz`, read with
# `matplotlib.cbook.get_sample_data` -- nothing is downloaded). We forecast tomorrow's closing
# price from the last 20 days with a GRU, and compare it with three strong baselines:
#
# - **last value** (persistence): tomorrow = today;
# - **seasonal naive**: tomorrow = the same weekday last week (a season of 5 trading days);
# - **linear autoregression**: tomorrow's log-return is a linear function of the last 20,
#   fitted by least squares on the training period -- the GRU's inputs, without the GRU.
#
# Two rules of forecasting. Split in *time*: train on the past, test on the future (a random split
# would let the model peek at the days around each test day). And judge a model on the held-out
# future only: fitting the past better than a baseline proves nothing, as we are about to see.
#
# The models see log-returns r_t = log(p_t / p_(t-1)) (scale-free, roughly stationary) and
# predict the next one; the price forecast is p_t * exp(predicted r).

# %%
from _common import Lesson

lesson = Lesson("09_time_series", ingredients={"training": "the GRU is trained on the training period"})

import matplotlib.cbook
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

records = matplotlib.cbook.get_sample_data("goog.npz")["price_data"]
dates, prices = records["date"], records["adj_close"].astype(np.float64)
returns = np.diff(np.log(prices))  # returns[k] = log(p[k+1] / p[k])
WINDOW = 20
SEASON = 5  # trading days in a week
split = int(0.8 * len(returns))  # the last 20% of days are the future we test on
print(f"{len(prices)} trading days, {dates[0]} to {dates[-1]}; train until {dates[split]}, test after")

scale = returns[:split].std()  # normalise with statistics of the training period only


def windows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (N, WINDOW, 1) of past returns, the next return, and the index of 'today' in prices."""
    ends = np.arange(max(start, WINDOW), stop)  # predict returns[end] from returns[end - WINDOW : end]
    x = np.stack([returns[e - WINDOW : e] for e in ends])[:, :, None] / scale
    return x, returns[ends] / scale, ends


x_train, y_train, train_days = windows(0, split)
x_test, y_test, test_days = windows(split, len(returns))

# %% [markdown]
# ## 1. The GRU
#
# A GRU with 16 units reads the 20 normalised returns; a linear head reads its last state and
# predicts the next return. Adam on random mini-batches of training windows.

# %%
HIDDEN = lesson.param("hidden", 16)


class Forecaster(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(1, HIDDEN, batch_first=True, fused=True)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x: np.ndarray) -> Tensor:
        output, _ = self.gru(Tensor(x))  # (N, WINDOW, HIDDEN)
        return self.head(output[:, -1])[:, 0]  # (N,)


tg.manual_seed(0)
model = Forecaster()
optimizer = optim.Adam(model.parameters(), lr=0.003)
rng = lesson.rng
steps = lesson.pick(400, 150) if lesson.uses("training") else 0
for _ in lesson.progress(range(steps), "training the GRU"):
    batch = rng.integers(0, len(x_train), 64)
    loss = nn.functional.mse_loss(model(x_train[batch]), Tensor(y_train[batch]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

with tg.no_grad():
    gru_test = model(x_test).data * scale  # predicted log-returns on the held-out days
    gru_train = model(x_train).data * scale

# %% [markdown]
# ## 2. The baselines, and everyone on the held-out period
#
# The linear autoregression is fitted in closed form: least squares of the next return on the
# last 20 returns and a constant, training period only.

# %%
design_train = np.hstack([x_train[:, :, 0], np.ones((len(x_train), 1))])  # (N, WINDOW + 1)
coefficients, *_ = np.linalg.lstsq(design_train, y_train, rcond=None)
ar_train = design_train @ coefficients * scale
ar_test = np.hstack([x_test[:, :, 0], np.ones((len(x_test), 1))]) @ coefficients * scale

today = prices[test_days]  # the price each forecast starts from
truth = prices[test_days + 1]
forecasts = {
    "GRU": today * np.exp(gru_test),
    "last value (persistence)": today,
    "linear AR(20), least squares": today * np.exp(ar_test),
    f"seasonal naive ({SEASON} days)": prices[test_days + 1 - SEASON],
    "training-period mean": np.full_like(truth, prices[: split + 1].mean()),
}
mse = {name: float(np.mean((f - truth) ** 2)) for name, f in forecasts.items()}
persistence = mse["last value (persistence)"]
print("held-out MSE of the next-day closing price (dollars^2), and relative to persistence:")
for name, value in mse.items():
    print(f"  {name:32s} {value:10.2f}   {value / persistence:6.3f}")

# In-sample: the same comparison on the days the models were fitted to (returns, normalised).
in_sample = {
    "GRU": float(np.mean((gru_train / scale - y_train) ** 2)),
    "linear AR(20)": float(np.mean((ar_train / scale - y_train) ** 2)),
    "persistence (return 0)": float(np.mean(y_train**2)),
}
print("\nin-sample MSE of the normalised next-day return (the days the models were fitted to):")
for name, value in in_sample.items():
    print(f"  {name:32s} {value:8.4f}")

# %% [markdown]
# What the numbers say. Persistence is far better than the seasonal forecast and the mean: prices
# move like a random walk, so the best guess for tomorrow is today. The trained GRU (like the
# linear autoregression) *does* find a little structure -- in the past: it fits the training
# period a few percent better than persistence. On the future that structure is gone: neither the
# GRU nor the linear autoregression beats persistence. An untrained GRU (run `--without training`)
# predicts "about no change" and so also ties persistence on the test days; what it cannot do is
# fit the past.

# %%
gru_ratio = mse["GRU"] / persistence
ar_ratio = mse["linear AR(20), least squares"] / persistence
fit_gain = in_sample["GRU"] / in_sample["persistence (return 0)"]
lesson.claim(
    persistence < 0.5 * min(mse[f"seasonal naive ({SEASON} days)"], mse["training-period mean"]),
    "last value beats the seasonal-naive and mean forecasts by over 2x: the price is close to a random walk",
)
lesson.claim(
    fit_gain < lesson.pick(0.97, 0.99),  # untrained: 0.998; trained: 0.958 (full), 0.979 (quick)
    f"the trained GRU fits the training period better than persistence (in-sample MSE ratio {fit_gain:.3f})",
    needs="training",
)
lesson.claim(
    min(gru_ratio, ar_ratio) > 0.98,
    f"on the held-out future neither the GRU ({gru_ratio:.3f}) nor the linear AR ({ar_ratio:.3f}) beats "
    "persistence by even 2%: the in-sample gain was noise",
)

# %%
fig, axes = plt.subplots(2, 1, figsize=(9, 6.5))
axes[0].plot(dates[: split + 1], prices[: split + 1], color="grey", lw=1, label="training period")
axes[0].plot(dates[test_days + 1], truth, color="black", lw=1.2, label="truth (test period)")
axes[0].plot(dates[test_days + 1], forecasts["GRU"], color="tab:blue", lw=1, alpha=0.8, label="GRU next-day forecast")
axes[0].axvline(dates[split], color="tab:red", ls="--", lw=1, label="train/test split")
axes[0].set(ylabel="adjusted close ($)", title="GOOG daily prices (matplotlib sample data): forecast vs truth")
axes[0].legend(fontsize=8)
names = list(mse)
axes[1].barh(range(len(names)), [mse[n] / persistence for n in names], color="tab:blue")
axes[1].axvline(1.0, color="black", lw=1, ls="--")
axes[1].set_yticks(range(len(names)), names, fontsize=8)
axes[1].set_xscale("log")
axes[1].set(xlabel="held-out MSE / persistence's MSE (log scale)", title="Nothing beats 'tomorrow = today'")
fig.tight_layout()
lesson.savefig(fig, "forecast_vs_truth", key=True)

# %% [markdown]
# ## Predict, then run
#
# 1. `--set hidden=64`: a GRU four times as wide fits the training period even better. Will its
#    held-out MSE beat persistence? (Look at both tables.)
# 2. `--without training`: the GRU keeps its random initial weights. Which claims fail, and why
#    does the held-out one still hold?

# %%
lesson.done()
