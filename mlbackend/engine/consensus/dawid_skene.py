"""Dawid-Skene EM on flat observation arrays, plus the majority-vote baseline.

States: K real classes plus state K = "no cell / not an asked class". An annotator is modelled by
  q[a, c, o]  P(labels class o | true state c, labelled it)   (all modes; uniform for c = no cell)
  m[a, c]     P(leaves it unlabelled | true state c)          (exhaustive tasks only)
so an exhaustive observation has likelihood (1 - m) q for a label and m for a miss, and a sparse
observation has likelihood q (a missing label in a sparse task is no observation). A "no cell"
cluster exists because someone clicked there; stray clicks of different annotators rarely land on
the same spot, so every label beyond the first multiplies the no-cell likelihood by a coincidence
probability (cfg.stray_coincidence). Without it the no-cell state, whose class emission is uniform,
soaks up real cells whose labels disagree. This
factorisation makes the M-step closed form with Dirichlet (q) and Beta (m) pseudo-counts, which
keep small data from degenerating. Initialised from soft majority vote; deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mlbackend.engine.consensus.types import ConsensusConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observations:
    """Flat observations: outcome in 0..K-1 is a label, K is an exhaustive miss."""

    item: np.ndarray
    annotator: np.ndarray
    outcome: np.ndarray
    exhaustive: np.ndarray
    n_items: int
    n_annotators: int
    n_classes: int


@dataclass(frozen=True)
class DSFit:
    """Posteriors over K+1 states per item and the fitted annotator parameters."""

    posterior: np.ndarray
    q: np.ndarray
    miss: np.ndarray
    prior: np.ndarray
    iterations: int
    converged: bool


def _design(obs: Observations) -> sparse.csr_matrix:
    a_n, k = obs.n_annotators, obs.n_classes
    labelled = obs.outcome < k
    hit = labelled & obs.exhaustive
    missed = ~labelled
    rows = np.concatenate([obs.item[labelled], obs.item[hit], obs.item[missed]])
    cols = np.concatenate([
        obs.annotator[labelled] * k + obs.outcome[labelled],
        a_n * k + obs.annotator[hit],
        a_n * k + a_n + obs.annotator[missed],
    ])
    extra = np.maximum(np.bincount(obs.item[labelled], minlength=obs.n_items) - 1, 0)
    has_extra = np.flatnonzero(extra)
    rows = np.concatenate([rows, has_extra])
    cols = np.concatenate([cols, np.full(len(has_extra), a_n * k + 2 * a_n)])
    data = np.concatenate([np.ones(len(rows) - len(has_extra)), extra[has_extra].astype(np.float64)])
    return sparse.csr_matrix((data, (rows, cols)), shape=(obs.n_items, a_n * k + 2 * a_n + 1))


def vote_counts(obs: Observations) -> np.ndarray:
    """Votes per item over K+1 outcomes (labels and exhaustive misses)."""
    s = obs.n_classes + 1
    flat = np.bincount(obs.item * s + obs.outcome, minlength=obs.n_items * s)
    return flat.reshape(obs.n_items, s).astype(np.float64)


def majority_vote(obs: Observations, seed: int = 0) -> np.ndarray:
    """Majority-vote state per item (-1 without votes); ties broken by a seeded random order."""
    counts = vote_counts(obs)
    jitter = np.random.default_rng(seed).random(counts.shape) * 1e-3
    state = np.argmax(counts + jitter, axis=1)
    state[counts.sum(axis=1) == 0] = -1
    return state


def _m_step(design_t: sparse.csr_matrix, post: np.ndarray, fit: np.ndarray, weight: np.ndarray,
            obs: Observations, cfg: ConsensusConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a_n, k = obs.n_annotators, obs.n_classes
    s = k + 1
    post = post * weight[:, None]
    counts = np.asarray(design_t @ post)
    cq = counts[: a_n * k].reshape(a_n, k, s).transpose(0, 2, 1)
    alpha = np.full((s, k), cfg.offdiag_pseudo)
    alpha[np.arange(k), np.arange(k)] = cfg.diag_pseudo
    q = cq + alpha[None]
    q /= q.sum(axis=2, keepdims=True)
    # Stray clicks on "no cell" get a fixed uniform class: learning that row lets the no-cell state
    # impersonate a real class with a low detection rate (an unidentifiable mixture).
    q[:, k, :] = 1.0 / max(k, 1)
    hit = counts[a_n * k: a_n * k + a_n]
    mis = counts[a_n * k + a_n: a_n * k + 2 * a_n]
    beta_m = np.full(s, cfg.miss_pseudo)
    beta_h = np.full(s, cfg.hit_pseudo)
    beta_m[k], beta_h[k] = cfg.hit_pseudo, cfg.miss_pseudo  # with no cell, leaving it unlabelled is right
    miss = (mis + beta_m) / (mis + hit + beta_m + beta_h)
    # Optional shrinkage of each annotator's stray-click rate towards the pooled rate (0 = free rates;
    # a large value ties them). On simulated data free rates plus the coincidence term did best.
    m_none, h_none = mis[:, k].sum(), hit[:, k].sum()
    pooled = (m_none + beta_m[k]) / (m_none + h_none + beta_m[k] + beta_h[k])
    lam = cfg.stray_shrinkage
    miss[:, k] = (mis[:, k] + lam * pooled + beta_m[k]) / (mis[:, k] + hit[:, k] + lam + beta_m[k] + beta_h[k])
    prior = post[fit].sum(axis=0) + cfg.class_pseudo
    return q, miss, prior / prior.sum()


def _e_step(design: sparse.csr_matrix, q: np.ndarray, miss: np.ndarray, prior: np.ndarray,
            coincidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors per pattern and each pattern's log marginal likelihood."""
    a_n, s, k = q.shape
    stray = np.zeros((1, s))
    stray[0, k] = np.log(coincidence)
    weights = np.vstack([
        np.log(q).transpose(0, 2, 1).reshape(a_n * k, s),
        np.log1p(-miss),
        np.log(miss),
        stray,
    ])
    log_post = np.asarray(design @ weights) + np.log(prior)[None]
    top = log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post - top)
    total = post.sum(axis=1, keepdims=True)
    return post / total, (top + np.log(total))[:, 0]


def _patterns(obs: Observations) -> tuple[np.ndarray, np.ndarray]:
    """Group items with identical observations: (representative item per pattern, pattern of each item).

    An item's row of the design matrix is fixed by its set of (annotator, outcome, exhaustive)
    observations, so EM over unique patterns weighted by their counts is exact and much smaller.
    Rows are hashed with seeded random 64-bit keys (collisions are astronomically unlikely).
    """
    s = obs.n_classes + 1
    code = (obs.annotator * s + obs.outcome) * 2 + obs.exhaustive.astype(np.int64)
    keys = np.random.default_rng(12345).integers(1, 2**63 - 1, size=max(obs.n_annotators * s * 2, 1),
                                                 dtype=np.int64).view(np.uint64)
    row_hash = np.zeros(obs.n_items, dtype=np.uint64)
    np.add.at(row_hash, obs.item, keys[code])
    _, rep, inverse = np.unique(row_hash, return_index=True, return_inverse=True)
    return rep, inverse.reshape(-1)


def fit_dawid_skene(obs: Observations, cfg: ConsensusConfig) -> DSFit:
    """Run EM from soft majority vote until posteriors (max abs) or the log-likelihood (relative) settle."""
    s = obs.n_classes + 1
    rep, inverse = _patterns(obs)
    weight = np.bincount(inverse, minlength=len(rep)).astype(np.float64)
    design = _design(obs)[rep]
    design_t = design.T.tocsr()
    counts = vote_counts(obs)[rep]
    fit = counts.sum(axis=1) > 0
    post = counts + 0.01
    post /= post.sum(axis=1, keepdims=True)
    post[~fit] = 1.0 / s
    converged, it, last_ll = False, 0, -np.inf
    q, miss, prior = _m_step(design_t, post, fit, weight, obs, cfg)
    while it < cfg.max_iter:
        it += 1
        new, row_ll = _e_step(design, q, miss, prior, cfg.stray_coincidence)
        delta = float(np.abs(new - post).max()) if len(new) else 0.0
        ll = float((weight * row_ll)[fit].sum())
        post = new
        q, miss, prior = _m_step(design_t, post, fit, weight, obs, cfg)
        if delta < cfg.tol or abs(ll - last_ll) <= cfg.ll_tol * max(abs(ll), 1.0):
            converged = True
            break
        last_ll = ll
    logger.debug("dawid-skene: %d patterns, %d iterations, converged=%s", len(rep), it, converged)
    return DSFit(posterior=post[inverse] if len(inverse) else np.zeros((0, s)), q=q, miss=miss, prior=prior,
                 iterations=it, converged=converged)


def reliability(fit: DSFit) -> np.ndarray:
    """Per-annotator class accuracy on labelled cells, weighted by the estimated class prior."""
    a_n, s, k = fit.q.shape
    diag = fit.q[:, np.arange(k), np.arange(k)]
    w = fit.prior[:k] / max(fit.prior[:k].sum(), 1e-12)
    return diag @ w


def detection_rate(fit: DSFit) -> np.ndarray:
    """Per-annotator share of real cells labelled (meaningful only with exhaustive tasks)."""
    k = fit.q.shape[2]
    w = fit.prior[:k] / max(fit.prior[:k].sum(), 1e-12)
    return (1.0 - fit.miss[:, :k]) @ w
