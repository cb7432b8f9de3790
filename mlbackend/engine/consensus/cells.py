"""Turn a vectorised consensus build into frozen ConsensusCell records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlbackend.engine.consensus.build import ConsensusArrays, ConsensusResult
from mlbackend.engine.consensus.gc_pause import bulk_objects
from mlbackend.engine.consensus.types import CellStatus, ConsensusCell


def group_rows(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable order of rows by key and start offsets per key (length n_groups + 1)."""
    order = np.argsort(keys, kind="stable")
    starts = np.searchsorted(keys[order], np.arange(n_groups + 1))
    return order, starts


def cell_status(arrays: ConsensusArrays) -> list[CellStatus]:
    """'cell', 'no_cell' or 'unlabelled' (no human observation) per cell cluster."""
    names: list[CellStatus] = []
    for s in arrays.state.tolist():
        names.append("unlabelled" if s < 0 else "no_cell" if s == arrays.no_cell else "cell")
    return names


def consensus_cells(result: ConsensusResult) -> tuple[ConsensusCell, ...]:
    """One ConsensusCell per cluster: consensus class, its posterior, members, misses and model match."""
    ar = result.arrays
    n, keys = ar.n_cells, list(ar.classes) + [None]
    ann_ids = ar.annotator_ids
    l_order, l_start = group_rows(ar.label_cell, n)
    m_order, m_start = group_rows(ar.miss_cell, n)
    l_start, m_start = l_start.tolist(), m_start.tolist()
    l_ids = [ar.label_ids[i] for i in l_order.tolist()]
    l_ann = [ann_ids[a] for a in ar.label_annotator[l_order].tolist()]
    l_cls = [keys[c] for c in ar.label_class[l_order].tolist()]
    m_ann = [ann_ids[a] for a in ar.miss_annotator[m_order].tolist()]
    status = cell_status(ar)
    best = np.argmax(ar.posterior, axis=1).tolist() if n else []
    best_p = ar.posterior.max(axis=1).tolist() if n else []
    post = np.round(ar.posterior, 6).tolist()
    task = [ar.task_ids[t] for t in ar.cell_task.tolist()]
    x, y = ar.cell_x.tolist(), ar.cell_y.tolist()
    mv = [keys[s] if s >= 0 else None for s in ar.mv_state.tolist()]
    model = [keys[c] if c >= 0 else None for c in ar.model_class.tolist()]
    conf = [None if c != c else c for c in ar.model_confidence.tolist()]  # NaN -> None
    out = []
    with bulk_objects():
        for i in range(n):
            a, b = l_start[i], l_start[i + 1]
            st = status[i]
            out.append(ConsensusCell(
                task_id=task[i], index=i, status=st, consensus_class=keys[best[i]] if st == "cell" else None,
                posterior=best_p[i] if st != "unlabelled" else 0.0, x=x[i], y=y[i], polygon=ar.cell_polygon[i],
                label_ids=tuple(l_ids[a:b]), annotator_ids=tuple(l_ann[a:b]), label_classes=tuple(l_cls[a:b]),
                missing_annotator_ids=tuple(m_ann[m_start[i]:m_start[i + 1]]), mv_class=mv[i], model_class=model[i],
                model_confidence=conf[i], class_posteriors=tuple(zip(keys, post[i], strict=True)),
            ))
    return tuple(out)


@dataclass(frozen=True)
class ConsensusLabels:
    """Agreed cells only (status 'cell'), as parallel arrays/lists: what the platform stores."""

    index: np.ndarray
    task_ids: list
    class_keys: list
    posterior: np.ndarray
    x: np.ndarray
    y: np.ndarray
    polygons: list
    support: np.ndarray


def consensus_labels(result: ConsensusResult) -> ConsensusLabels:
    """Consensus class, posterior, position, polygon and support (labels in the cluster) per agreed cell."""
    ar = result.arrays
    idx = np.flatnonzero((ar.state >= 0) & (ar.state != ar.no_cell))
    keys = ar.classes
    support = np.bincount(ar.label_cell, minlength=ar.n_cells)[idx]
    return ConsensusLabels(
        index=idx, task_ids=[ar.task_ids[t] for t in ar.cell_task[idx].tolist()],
        class_keys=[keys[s] for s in ar.state[idx].tolist()],
        posterior=ar.posterior[idx, ar.state[idx]] if len(idx) else np.zeros(0),
        x=ar.cell_x[idx], y=ar.cell_y[idx], polygons=[ar.cell_polygon[i] for i in idx.tolist()], support=support,
    )
