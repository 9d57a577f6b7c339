"""Lesson 9: time-series forecasting on real data -- and the baseline you must always check.

matplotlib ships a small sample of real data with every installation: Google's daily stock prices
from August 2004 to October 2008 (``goog.npz``, read with ``matplotlib.cbook.get_sample_data`` --
nothing is downloaded). We forecast tomorrow's closing price from the last 20 days with a GRU.

Two rules of forecasting:
1. Split in *time*: train on the past, test on the future. A random split would let the model
   peek at days surrounding each test day.
2. Compare with the **persistence** baseline, "tomorrow = today". For prices, which move nearly
   like a random walk, it is very hard to beat: a model that merely matches it has learned the
   right thing (predict small changes), and one that does much worse has overfitted.

The model sees log-returns r_t = log(p_t / p_(t-1)) (scale-free, roughly stationary) and predicts
the next one; the price forecast is p_t * exp(predicted r).

Run: ``python tutorials/09_time_series.py [--quick] [--out FOLDER]``
"""

from _common import Lesson

lesson = Lesson(__doc__, "09_time_series")

import matplotlib.cbook
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

records = matplotlib.cbook.get_sample_data("goog.npz")["price_data"]
dates, prices = records["date"], records["adj_close"].astype(np.float64)
returns = np.diff(np.log(prices))  # returns[k] = log(p[k+1] / p[k])
WINDOW = 20
split = int(0.8 * len(returns))  # the last 20% of days are the future we test on
print(f"\n{len(prices)} trading days, {dates[0]} to {dates[-1]}; train until {dates[split]}, test after")

scale = returns[:split].std()  # normalise with statistics of the training period only


def windows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (N, WINDOW, 1) of past returns, the next return, and the index of 'today' in prices."""
    ends = np.arange(max(start, WINDOW), stop)  # predict returns[end] from returns[end - WINDOW : end]
    x = np.stack([returns[e - WINDOW : e] for e in ends])[:, :, None] / scale
    return x, returns[ends] / scale, ends


x_train, y_train, _ = windows(0, split)
x_test, y_test, test_days = windows(split, len(returns))


class Forecaster(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(1, 16, batch_first=True, fused=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x: np.ndarray) -> Tensor:
        output, _ = self.gru(Tensor(x))
        return self.head(output[:, -1])[:, 0]


tg.manual_seed(0)
model = Forecaster()
optimizer = optim.Adam(model.parameters(), lr=0.003, weight_decay=1e-4)
rng = lesson.rng
losses = []
for _ in range(lesson.pick(400, 150)):
    batch = rng.integers(0, len(x_train), 64)
    loss = nn.functional.mse_loss(model(x_train[batch]), Tensor(y_train[batch]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with tg.no_grad():
    predicted_return = model(x_test).data * scale
today = prices[test_days]  # the price the forecast starts from
truth = prices[test_days + 1]
forecast = today * np.exp(predicted_return)
persistence = today
train_mean = np.full_like(truth, prices[: split + 1].mean())  # a model that ignores time order entirely
mse = {
    "GRU": float(np.mean((forecast - truth) ** 2)),
    "persistence (tomorrow = today)": float(np.mean((persistence - truth) ** 2)),
    "training-period mean": float(np.mean((train_mean - truth) ** 2)),
}
print("\ntest MSE of next-day closing price (dollars^2):")
for name, value in mse.items():
    print(f"  {name:32s} {value:10.2f}")

ratio = mse["GRU"] / mse["persistence (tomorrow = today)"]
lesson.claim(
    ratio < 1.1, f"the GRU is as good as persistence to within 10% (ratio {ratio:.3f}): it learned 'small changes'"
)
lesson.claim(
    mse["persistence (tomorrow = today)"] < 0.05 * mse["training-period mean"],
    "persistence is over 20x better than a forecast that ignores time order",
)
lesson.claim(
    np.std(predicted_return) < 0.5 * np.std(returns[split:]),
    "the model's predicted daily changes are much smaller than the real ones: most of a day's move is unpredictable",
)

fig, axes = plt.subplots(2, 1, figsize=(9, 6.5), gridspec_kw={"height_ratios": [1, 1]})
axes[0].plot(dates[: split + 1], prices[: split + 1], color="grey", lw=1, label="training period")
axes[0].plot(dates[test_days + 1], truth, color="black", lw=1.2, label="truth (test period)")
axes[0].plot(dates[test_days + 1], forecast, color="tab:blue", lw=1, alpha=0.8, label="GRU next-day forecast")
axes[0].axvline(dates[split], color="tab:red", ls="--", lw=1, label="train/test split")
axes[0].set(ylabel="adjusted close ($)", title="GOOG daily prices (matplotlib sample data): forecast vs truth")
axes[0].legend(fontsize=8)
last = slice(-40, None)  # zoom: the last 40 test days
axes[1].plot(dates[test_days + 1][last], truth[last], "k.-", lw=1.2, label="truth")
axes[1].plot(dates[test_days + 1][last], forecast[last], "o-", color="tab:blue", ms=3, lw=1, label="GRU forecast")
axes[1].plot(dates[test_days + 1][last], persistence[last], "s--", color="tab:orange", ms=3, lw=1, label="persistence")
axes[1].set(
    ylabel="adjusted close ($)", xlabel="date", title="Last 40 test days: the forecasts trail the truth by a day"
)
axes[1].legend(fontsize=8)
fig.autofmt_xdate()
lesson.savefig(fig, "forecast_vs_truth", key=True)
lesson.done()
