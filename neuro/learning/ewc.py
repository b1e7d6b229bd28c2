r"""Elastic weight consolidation (Kirkpatrick et al., PNAS 2017), a regularisation baseline.

After task :math:`k` the diagonal Fisher information :math:`F_k` of every parameter is estimated
on the task's data and the parameters :math:`\theta^*_k` are stored; later tasks minimise

.. math::

    L(\theta) + \frac{\lambda}{2} \sum_k \sum_i F_{k,i} (\theta_i - \theta^*_{k,i})^2
    = L(\theta) + \frac{\lambda}{2} \sum_i A_i (\theta_i - m_i)^2 + \text{const},

with :math:`A = \sum_k F_k` and the Fisher-weighted anchor :math:`m = \sum_k F_k \theta^*_k / A`
(the identity keeps memory constant in the number of tasks; gradients are those of the per-task
sum exactly). The Fisher is the empirical one from mini-batch gradients:
:math:`F \approx \frac{1}{N_b} \sum_b B\, g_b^2` (:math:`B g_b^2` estimates the per-sample mean of
:math:`g^2` when the mean gradient is near zero, as after training).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


class EWC(nn.Module):
    """EWC penalty over ``model``'s trainable parameters.

    Args:
        model: the network. strength: ``lambda``.

    Use: ``loss = task_loss + ewc.penalty()``; after a task ``ewc.consolidate(loss_of, batches)``.
    """

    def __init__(self, model: nn.Module, strength: float) -> None:
        super().__init__()
        if not strength >= 0:
            raise ValueError(f"EWC strength must be >= 0, got {strength}")
        self.strength = float(strength)
        self._params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        for name, p in self._params:
            key = name.replace(".", "__")
            self.register_buffer(f"fisher__{key}", torch.zeros_like(p))
            self.register_buffer(f"anchor__{key}", torch.zeros_like(p))
        self.tasks_done = 0

    def _buffers_of(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        key = name.replace(".", "__")
        return self._buffers[f"fisher__{key}"], self._buffers[f"anchor__{key}"]

    def penalty(self) -> torch.Tensor:
        r""":math:`\frac{\lambda}{2} \sum_i A_i (\theta_i - m_i)^2` (0 before the first task)."""
        total = self._params[0][1].new_zeros(())
        if self.tasks_done == 0 or self.strength == 0:
            return total
        for name, p in self._params:
            fisher, anchor = self._buffers_of(name)
            total = total + (fisher * (p - anchor) ** 2).sum()
        return 0.5 * self.strength * total

    def consolidate(self, loss_of: Callable[[object], torch.Tensor], batches: Iterable) -> None:
        """Add the Fisher of the current parameters; ``loss_of(batch)`` returns ``(mean loss, size)``."""
        fisher = {name: torch.zeros_like(p) for name, p in self._params}
        count = 0
        for batch in batches:
            loss, size = loss_of(batch)
            grads = torch.autograd.grad(loss, [p for _, p in self._params], allow_unused=True)
            for (name, _), g in zip(self._params, grads):
                if g is not None:
                    fisher[name] += size * g.detach() ** 2
            count += 1
        if count == 0:
            raise ValueError("EWC.consolidate got no batches")
        with torch.no_grad():
            for name, p in self._params:
                f = fisher[name] / count
                total, anchor = self._buffers_of(name)
                new_total = total + f
                safe = torch.where(new_total > 0, new_total, torch.ones_like(new_total))
                anchor.copy_(torch.where(new_total > 0, (total * anchor + f * p.detach()) / safe,
                                         p.detach()))
                total.copy_(new_total)
        self.tasks_done += 1

    def max_fisher(self) -> float:
        """The largest accumulated Fisher value (SGD on the penalty is stable for
        ``lr * strength * max_fisher < 2``)."""
        return max((float(self._buffers_of(n)[0].max()) for n, _ in self._params), default=0.0)

    def get_extra_state(self) -> dict:
        """Checkpointed beyond the buffers: ``{"tasks_done": int}``, the number of consolidated tasks."""
        return {"tasks_done": int(self.tasks_done)}

    def set_extra_state(self, state: dict) -> None:
        """Restore ``tasks_done`` from a state written by :meth:`get_extra_state`."""
        self.tasks_done = int(state["tasks_done"])
