"""Seeded k-means for unit codebooks: k-means++ start, chunked Lloyd steps, empty-cluster restarts.

Distances are computed a chunk of rows at a time, so memory stays at (chunk, K) however many
frames are fitted. All randomness comes from one `torch.Generator`, so a seed gives the same
codebook on every run; the fit is a `Job` that yields one `Progress` per iteration.
"""

from __future__ import annotations

import torch

from imagintalk_plugin.core.progress import Job, Progress, drive

CHUNK_ROWS = 8192  # rows per distance block: (8192, K=200) float32 is 6.5 MB
INIT_POINTS_PER_CLUSTER = 64  # k-means++ runs on at most 64 * K points; plenty to seed well


def assign(
    features: torch.Tensor, centroids: torch.Tensor, *, chunk: int = CHUNK_ROWS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of and squared distance to the nearest centroid for every row, chunk by chunk."""
    n = features.shape[0]
    ids = torch.empty(n, dtype=torch.int64)  # (N,)
    dist = torch.empty(n, dtype=torch.float32)  # (N,)
    c_sq = (centroids * centroids).sum(1)  # (K,)
    for start in range(0, n, chunk):
        x = features[start : start + chunk]  # (B, F)
        d = (x * x).sum(1, keepdim=True) - 2.0 * (x @ centroids.T) + c_sq  # (B, K)
        best, idx = d.min(1)  # (B,), (B,)
        ids[start : start + chunk] = idx
        dist[start : start + chunk] = best.clamp_min(0.0)
    return ids, dist


def kmeans_plus_plus(points: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each new centre drawn with probability proportional to D(x)^2."""
    n = points.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    chosen = [first]
    d = ((points - points[first]) ** 2).sum(1).double()  # (n,)
    for _ in range(1, k):
        total = float(d.sum())
        if total > 0.0:
            index = int(torch.multinomial(d / total, 1, generator=generator))
        else:  # every point sits on a centre already (duplicates): any point will do
            index = int(torch.randint(n, (1,), generator=generator))
        chosen.append(index)
        d = torch.minimum(d, ((points - points[index]) ** 2).sum(1).double())
    return points[torch.tensor(chosen)].clone()  # (k, F)


def iter_kmeans(
    features: torch.Tensor,
    k: int,
    *,
    iters: int,
    seed: int,
    init: torch.Tensor | None = None,
    chunk: int = CHUNK_ROWS,
) -> Job[torch.Tensor]:
    """Fit k centroids to `features` (N, F); yields Progress("k-means", it, iters, unit="iter").

    Starts from k-means++ on a seeded subsample (or from `init`), stops early once no point
    changes cluster. A cluster left empty is restarted at the point farthest from its centroid,
    so all k units stay in use.
    """
    if features.ndim != 2:
        raise ValueError(f"features must be (N, F), got shape {tuple(features.shape)}")
    n, dim = features.shape
    if k < 1 or n < k:
        raise ValueError(f"k-means needs at least k={k} points (k >= 1), got {n}")
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    x = features.detach().to(torch.float32).contiguous()  # (N, F)
    generator = torch.Generator().manual_seed(seed)
    if init is None:
        m = min(n, INIT_POINTS_PER_CLUSTER * k)
        pool = x if m == n else x[torch.randperm(n, generator=generator)[:m]]  # (m, F)
        centroids = kmeans_plus_plus(pool, k, generator)  # (K, F)
    else:
        if tuple(init.shape) != (k, dim):
            raise ValueError(f"init must be ({k}, {dim}), got {tuple(init.shape)}")
        centroids = init.detach().to(torch.float32).clone()  # (K, F)
    previous: torch.Tensor | None = None
    for it in range(1, iters + 1):
        ids, dist = assign(x, centroids, chunk=chunk)  # (N,), (N,)
        sums = torch.zeros(k, dim).index_add_(0, ids, x)  # (K, F)
        counts = torch.bincount(ids, minlength=k)  # (K,)
        centroids = sums / counts.clamp_min(1).unsqueeze(1).to(torch.float32)  # (K, F)
        empty = torch.nonzero(counts == 0).flatten()  # (E,)
        if len(empty):
            farthest = dist.topk(len(empty)).indices  # (E,) distinct points
            centroids[empty] = x[farthest]
        elif previous is not None and torch.equal(ids, previous):
            yield Progress("k-means", iters, iters, message=f"converged at {it}", unit="iter")
            break
        previous = ids
        yield Progress("k-means", it, iters, unit="iter")
    return centroids.contiguous()


def fit_kmeans(
    features: torch.Tensor,
    k: int,
    *,
    iters: int,
    seed: int,
    init: torch.Tensor | None = None,
) -> torch.Tensor:
    """`iter_kmeans` run to completion without progress reports: (N, F) -> (k, F) centroids."""
    return drive(iter_kmeans(features, k, iters=iters, seed=seed, init=init))
