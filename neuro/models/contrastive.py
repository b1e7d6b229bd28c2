r"""Contrastive projection heads over fixed encoders (the zero-shot LSM protocol of Lin et al. 2025).

Two fixed encoders (e.g. two reservoirs, one per modality) give features :math:`f_a, f_b`; a
trainable head per modality, one linear layer and a GELU (:class:`ProjectionHead`), maps them to
unit vectors :math:`z = g(W f + b) / \|g(W f + b)\|`. For a batch of ``B`` pairs the CLIP loss
(Radford et al. 2021) is the symmetric cross-entropy over cosine similarities at temperature
:math:`\tau`:

.. math:: L = \tfrac12 \big[\mathrm{CE}(Z_a Z_b^\top / \tau, I) + \mathrm{CE}(Z_b Z_a^\top / \tau, I)\big]

Pairs are two samples of the same class, one per modality (the modalities need not come from the
same underlying object); :func:`train_contrastive` draws batches with one pair per class, so no
other item of a batch shares the positive's class. Zero-shot evaluation
(:func:`retrieval_accuracy`): for each query of modality ``a`` retrieve the most similar item of a
gallery of modality ``b``; correct when the labels agree. Classes never seen in training measure
zero-shot transfer; chance is the gallery's label frequency.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class ProjectionHead(nn.Module):
    """``normalize(GELU(Linear(x)))`` after standardising the input with fixed statistics."""

    def __init__(self, in_features: int, dim: int = 64, mean: torch.Tensor | None = None,
                 std: torch.Tensor | None = None):
        super().__init__()
        self.linear = nn.Linear(in_features, dim)
        self.register_buffer("mean", torch.zeros(in_features) if mean is None else mean.float())
        self.register_buffer("std", torch.ones(in_features) if std is None else std.float().clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings ``[B, dim]`` of features ``x [B, in_features]``: standardised with the stored
        mean and std, then Linear and GELU.
        """
        if x.dim() != 2 or x.shape[1] != self.linear.in_features:
            raise ValueError(f"expected features [batch, {self.linear.in_features}], got {tuple(x.shape)}")
        return F.normalize(F.gelu(self.linear((x - self.mean) / self.std)), dim=-1)


def clip_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Symmetric InfoNCE / CLIP loss of paired unit embeddings ``[B, d]`` (pair ``i`` is positive)."""
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ValueError(f"paired embeddings must both be [B, d], got {tuple(z_a.shape)} and "
                         f"{tuple(z_b.shape)}")
    logits = z_a @ z_b.T / temperature
    target = torch.arange(len(z_a), device=z_a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def train_contrastive(feat_a: np.ndarray, labels_a: np.ndarray, feat_b: np.ndarray, labels_b: np.ndarray,
                      dim: int = 64, epochs: int = 100, lr: float = 1e-3, temperature: float = 1.0,
                      steps_per_epoch: int | None = None, seed: int = 0,
                      weight_decay: float = 0.0) -> tuple[ProjectionHead, ProjectionHead, list[float]]:
    """Train one head per modality with :func:`clip_loss` on same-class pairs (Adam).

    Every step draws one random sample of each class in each modality (batch = number of classes).
    Returns the two heads and the loss per epoch.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # head initialisation
    fa, fb = torch.as_tensor(feat_a, dtype=torch.float32), torch.as_tensor(feat_b, dtype=torch.float32)
    classes = np.intersect1d(np.unique(labels_a), np.unique(labels_b))
    if len(classes) < 2:
        raise ValueError("contrastive training needs at least two classes present in both modalities")

    def sampler(labels):
        """Members of every class laid end to end, with each class's offset and size."""
        members = [np.flatnonzero(np.asarray(labels) == c) for c in classes]
        sizes = torch.as_tensor([len(m) for m in members])
        offsets = torch.cumsum(sizes, 0) - sizes
        return torch.as_tensor(np.concatenate(members)), offsets, sizes

    pool_a, off_a, size_a = sampler(labels_a)
    pool_b, off_b, size_b = sampler(labels_b)
    head_a = ProjectionHead(fa.shape[1], dim, fa.mean(0), fa.std(0))
    head_b = ProjectionHead(fb.shape[1], dim, fb.mean(0), fb.std(0))
    opt = torch.optim.Adam([*head_a.parameters(), *head_b.parameters()], lr=lr, weight_decay=weight_decay)
    steps = steps_per_epoch or max(1, min(len(labels_a), len(labels_b)) // len(classes))
    history = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of ~10 rows: thread hand-offs would cost more than the math
    try:
        for _ in range(epochs):
            total = 0.0
            for _ in range(steps):
                ia = pool_a[off_a + (torch.rand(len(classes), generator=gen) * size_a).long()]
                ib = pool_b[off_b + (torch.rand(len(classes), generator=gen) * size_b).long()]
                loss = clip_loss(head_a(fa[ia]), head_b(fb[ib]), temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item()
            history.append(total / steps)
    finally:
        torch.set_num_threads(threads)
    return head_a, head_b, history


@torch.no_grad()
def embed(head: ProjectionHead, features: np.ndarray) -> torch.Tensor:
    """Unit embeddings of ``features`` through a trained head."""
    head.eval()
    return head(torch.as_tensor(features, dtype=torch.float32))


@torch.no_grad()
def retrieval_accuracy(query: torch.Tensor, query_labels: np.ndarray, gallery: torch.Tensor,
                       gallery_labels: np.ndarray) -> float:
    """Top-1 cross-modal retrieval: fraction of queries whose nearest gallery item has their label."""
    best = (query @ gallery.T).argmax(1).cpu().numpy()
    return float(np.mean(np.asarray(gallery_labels)[best] == np.asarray(query_labels)))


@torch.no_grad()
def prototype_accuracy(query: torch.Tensor, query_labels: np.ndarray, gallery: torch.Tensor,
                       gallery_labels: np.ndarray) -> float:
    """Nearest class prototype (mean gallery embedding per class) accuracy of the queries."""
    classes = np.unique(gallery_labels)
    means = [gallery[torch.as_tensor(gallery_labels == c)].mean(0) for c in classes]
    protos = F.normalize(torch.stack(means), dim=-1)
    pred = classes[(query @ protos.T).argmax(1).cpu().numpy()]
    return float(np.mean(pred == np.asarray(query_labels)))


def retrieval_chance(query_labels: np.ndarray, gallery_labels: np.ndarray) -> float:
    """Expected top-1 retrieval accuracy of a random gallery pick."""
    g = np.asarray(gallery_labels)
    return float(np.mean([np.mean(g == q) for q in np.asarray(query_labels)]))
