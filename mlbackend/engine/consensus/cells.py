"""Turn a vectorised consensus build into frozen ConsensusCell records."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from mlbackend.engine.consensus.build import ConsensusArrays, ConsensusResult
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
    ann_ids, task_ids = ar.annotator_ids, ar.task_ids
    l_order, l_start = group_rows(ar.label_cell, n)
    m_order, m_start = group_rows(ar.miss_cell, n)
    l_ids = [ar.label_ids[i] for i in l_order.tolist()]
    l_ann = ar.label_annotator[l_order].tolist()
    l_cls = ar.label_class[l_order].tolist()
    m_ann = ar.miss_annotator[m_order].tolist()
    status = cell_status(ar)
    best = np.argmax(ar.posterior, axis=1) if n else np.zeros(0, np.int64)
    best_p = ar.posterior[np.arange(n), best] if n else np.zeros(0)
    post = np.round(ar.posterior, 6).tolist()
    out = []
    for i in range(n):
        a, b = l_start[i], l_start[i + 1]
        mc, mv = int(ar.model_class[i]), int(ar.mv_state[i])
        out.append(ConsensusCell(
            task_id=task_ids[ar.cell_task[i]], index=i, status=status[i],
            consensus_class=keys[best[i]] if status[i] == "cell" else None,
            posterior=float(best_p[i]) if status[i] != "unlabelled" else 0.0,
            x=float(ar.cell_x[i]), y=float(ar.cell_y[i]), polygon=ar.cell_polygon[i],
            label_ids=tuple(l_ids[a:b]), annotator_ids=tuple(ann_ids[j] for j in l_ann[a:b]),
            label_classes=tuple(keys[c] for c in l_cls[a:b]),
            missing_annotator_ids=_ids(ann_ids, m_ann[m_start[i]:m_start[i + 1]]),
            mv_class=keys[mv] if mv >= 0 else None,
            model_class=keys[mc] if mc >= 0 else None,
            model_confidence=None if np.isnan(ar.model_confidence[i]) else float(ar.model_confidence[i]),
            class_posteriors=tuple(zip(keys, post[i], strict=True)),
        ))
    return tuple(out)


def _ids(ann_ids: tuple[Hashable, ...], idx: list[int]) -> tuple[Hashable, ...]:
    return tuple(ann_ids[j] for j in idx)
