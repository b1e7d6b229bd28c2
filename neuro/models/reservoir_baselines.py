r"""Baselines for reservoir comparisons: an untrained echo state network and a trained LSTM (the ceiling).

* :class:`EchoStateNetwork` — ``n`` leaky tanh units (Jaeger 2001), never trained:

  .. math:: x_t = (1 - a)\, x_{t-1} + a \tanh(W x_{t-1} + W_{in} u_t + b),

  :math:`W` sparse Gaussian (``density``) scaled to spectral radius ``spectral_radius``,
  :math:`W_{in} \sim U[-s, s]` with ``s = input_scale``, :math:`b \sim U[-0.2, 0.2]`, leak ``a``.
  Its states are read out like the liquid's spike counts: :func:`window_means` averages them over
  the same windows before each readout.
* :func:`train_lstm_readout` — a small LSTM trained end to end (Adam, early stopping on a validation
  split) on the binned input of the ``history`` steps before each readout: the ceiling a trained
  recurrent network reaches on the same data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["EchoStateNetwork", "LSTMReadout", "history_windows", "train_lstm_readout", "window_means"]


class EchoStateNetwork:
    """An untrained leaky-tanh echo state network (see the module docstring)."""

    def __init__(self, n: int, n_inputs: int, spectral_radius: float = 0.9, input_scale: float = 1.0,
                 leak: float = 1.0, density: float = 0.1, bias_scale: float = 0.2, seed: int = 0):
        if n < 2 or n_inputs < 1:
            raise ValueError(f"need n >= 2 units and n_inputs >= 1, got {n}, {n_inputs}")
        if not 0 < leak <= 1:
            raise ValueError(f"leak must be in (0, 1], got {leak}")
        if not 0 < density <= 1 or spectral_radius < 0 or input_scale < 0:
            raise ValueError("need density in (0, 1], spectral_radius >= 0 and input_scale >= 0")
        rng = np.random.default_rng([seed, 23, 5])
        w = rng.normal(size=(n, n)) * (rng.random((n, n)) < density)
        radius = float(np.abs(np.linalg.eigvals(w)).max())
        self.w = w * (spectral_radius / radius if radius > 0 else 0.0)
        self.w_in = rng.uniform(-input_scale, input_scale, (n, n_inputs))
        self.b = rng.uniform(-bias_scale, bias_scale, n)
        self.n, self.n_inputs, self.leak = n, n_inputs, leak

    def run(self, u: np.ndarray) -> np.ndarray:
        """States ``[T, n]`` (float32) for inputs ``u [T, n_inputs]``, from ``x = 0``."""
        u = np.asarray(u, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != self.n_inputs:
            raise ValueError(f"u must be [T, {self.n_inputs}], got shape {u.shape}")
        drive = u @ self.w_in.T + self.b  # [T, n], the input part of every step at once
        x = np.zeros(self.n)
        out = np.empty((len(u), self.n), np.float32)
        a = self.leak
        for t in range(len(u)):
            x = (1 - a) * x + a * np.tanh(self.w @ x + drive[t])
            out[t] = x
        return out


def window_means(states: np.ndarray, readout_bins: np.ndarray, lookback_bins: int, windows: int = 1
                 ) -> np.ndarray:
    """Mean of ``states [T, n]`` over ``windows`` equal windows of the ``lookback_bins`` rows before each
    readout row ``r`` (rows ``[r - lookback, r)``): ``[K, windows * n]``, oldest window first."""
    states = np.asarray(states, dtype=np.float64)
    r = np.asarray(readout_bins, np.int64)
    if not 1 <= windows <= lookback_bins:
        raise ValueError(f"windows must be in [1, lookback_bins={lookback_bins}], got {windows}")
    if r.size and (r.min() < lookback_bins or r.max() > len(states)):
        raise ValueError(f"readout rows must lie in [{lookback_bins}, {len(states)}]")
    cum = np.vstack([np.zeros((1, states.shape[1])), np.cumsum(states, axis=0)])
    edges = r[:, None] - lookback_bins + (np.arange(windows + 1) * lookback_bins) // windows
    sums = np.diff(cum[edges], axis=1)  # [K, W, n]
    return (sums / np.diff(edges, axis=1)[:, :, None]).reshape(len(r), -1).astype(np.float32)


def history_windows(binned: np.ndarray, readout_bins: np.ndarray, history_bins: int) -> np.ndarray:
    """The ``history_bins`` rows of ``binned [T, C]`` before each readout row: ``[K, history, C]``
    (zeros before the start of the stream)."""
    padded = np.vstack([np.zeros((history_bins, binned.shape[1]), binned.dtype), binned])
    rows = np.asarray(readout_bins, np.int64)[:, None] + np.arange(history_bins)  # padded coordinates
    return padded[rows]


class LSTMReadout(nn.Module):
    """``LSTM(inputs, hidden) -> Linear(hidden, outputs)`` on the last step (batch-first windows)."""

    def __init__(self, n_inputs: int, hidden: int, n_outputs: int):
        super().__init__()
        self.lstm = nn.LSTM(n_inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[B, n_outputs]`` of batch-first windows ``x [B, T, n_inputs]``: the linear head on the
        LSTM's last hidden state.
        """
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def train_lstm_readout(windows: np.ndarray, targets: np.ndarray, kind: str, train: np.ndarray,
                       val: np.ndarray, test: np.ndarray, hidden: int = 64, epochs: int = 40,
                       batch: int = 64, lr: float = 3e-3, seed: int = 0, patience: int = 10,
                       n_classes: int | None = None, threads: int | None = 1) -> dict:
    """Train :class:`LSTMReadout` on ``windows [K, history, C]`` (rows ``train``), keep the epoch with
    the best score on ``val`` and report it on ``test``: ``{"val", "test", "epochs", "parameters"}``.

    Scores: accuracy (``kind="classification"``) or NRMSE (``"regression"``; targets standardised
    on the training rows). Inputs are standardised per channel on the training rows. ``threads``:
    torch intra-op threads while training (default 1: a model this small only loses time to thread
    synchronisation, badly so on a busy machine); ``None`` keeps torch's setting.
    """
    if kind not in ("classification", "regression"):
        raise ValueError(f"kind must be 'classification' or 'regression', got {kind!r}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_lstm(windows, targets, kind, train, val, test, hidden, epochs, batch, lr, seed,
                           patience, n_classes)
    finally:
        torch.set_num_threads(previous)


def _train_lstm(windows: np.ndarray, targets: np.ndarray, kind: str, train: np.ndarray, val: np.ndarray,
                test: np.ndarray, hidden: int, epochs: int, batch: int, lr: float, seed: int, patience: int,
                n_classes: int | None) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 23, 6])
    x = np.asarray(windows, dtype=np.float32)
    mu, sd = x[train].mean((0, 1)), x[train].std((0, 1)) + 1e-6
    xt = torch.from_numpy((x - mu) / sd)
    if kind == "classification":
        n_out = int(n_classes or int(targets.max()) + 1)
        yt = torch.from_numpy(np.asarray(targets, np.int64))
        loss_fn = nn.functional.cross_entropy
    else:
        n_out = 1
        y_mu, y_sd = float(targets[train].mean()), float(targets[train].std() or 1.0)
        yt = torch.from_numpy(((np.asarray(targets, np.float64) - y_mu) / y_sd).astype(np.float32))[:, None]
        loss_fn = nn.functional.mse_loss
    model = LSTMReadout(x.shape[2], hidden, n_out)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def score(rows: np.ndarray) -> float:
        with torch.no_grad():
            out = model(xt[rows])
        if kind == "classification":
            return float((out.argmax(1) == yt[rows]).float().mean())
        err = (out - yt[rows]).numpy().ravel()
        return float(math.sqrt(np.mean(err ** 2)) / yt[rows].numpy().std())

    better = (lambda a, b: a > b) if kind == "classification" else (lambda a, b: a < b)
    best, best_state, best_epoch, waited = None, None, 0, 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(train)
        for lo in range(0, len(order), batch):
            rows = order[lo:lo + batch]
            loss = loss_fn(model(xt[rows]), yt[rows])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.eval()
        s = score(val)
        if best is None or better(s, best):
            best, best_epoch, waited = s, epoch + 1, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    return {"val": best, "test": score(test), "epochs": best_epoch,
            "parameters": sum(p.numel() for p in model.parameters())}
