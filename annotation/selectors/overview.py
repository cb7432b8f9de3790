"""Zoomed-out overview from the per-pair density grid (annotation_densitycell, kept by triggers; PostgreSQL only).

The bins are whole multiples of the 1024-px grid cell (DensityCell.SIZE), aligned on the grid, so every count is exact (centroids per
bin, as the row-scanning path counts them) and the query reads at most a few tens of thousands of grid rows,
however many annotations the pair holds. The answer describes its own bins (x0, y0, cell_w, cell_h, nx, ny), which
may be up to twice as large as asked and cover slightly more than the requested box.
"""

from __future__ import annotations

import math

import orjson
from django.db import connection

from annotation.models import DensityCell

G = DensityCell.SIZE


def grid_applies(*, width: float, height: float, bins: int, task_id: int | None) -> bool:
    """The grid serves bins at least half a grid cell wide (rounded to whole cells); a task filter needs the rows
    (tasks are small anyway)."""
    return connection.vendor == "postgresql" and task_id is None and width / bins >= G / 2 and height / bins >= G / 2


def grid_sql(query, visibility, bins: int) -> tuple[str, list, dict]:
    """The statement counting per bin from the grid, its parameters and the bins' description."""
    step_x = max(1, round((query.x1 - query.x0) / bins / G))
    step_y = max(1, round((query.y1 - query.y0) / bins / G))
    gx0, gy0 = math.floor(query.x0 / G), math.floor(query.y0 / G)
    nx = max(1, math.ceil((query.x1 - gx0 * G) / (step_x * G)))
    ny = max(1, math.ceil((query.y1 - gy0 * G) / (step_y * G)))
    where = "g.pair_id = %s AND g.n > 0 AND g.gx BETWEEN %s AND %s AND g.gy BETWEEN %s AND %s"
    params: list = [query.pair_id, gx0, gx0 + nx * step_x - 1, gy0, gy0 + ny * step_y - 1]
    vis_sql, vis_params = visibility.grid_sql("g")
    where += vis_sql
    params += vis_params
    if query.label_class_id is not None:
        where += " AND g.class_key = %s"
        params.append(query.label_class_id)
    if query.source:
        where += " AND g.source = %s"
        params.append(query.source)
    sql = (
        "SELECT coalesce(sum(c), 0), '[' || coalesce(string_agg(concat('[', i, ',', j, ',', c, ']'), ','), '') || ']'"
        " FROM (SELECT (g.gx - %s) / %s AS i, (g.gy - %s) / %s AS j, sum(g.n) AS c"
        f" FROM annotation_densitycell g WHERE {where} GROUP BY 1, 2) s"
    )
    head = {"x0": float(gx0 * G), "y0": float(gy0 * G), "cell_w": float(step_x * G), "cell_h": float(step_y * G), "nx": nx, "ny": ny}
    return sql, [gx0, step_x, gy0, step_y, *params], head


def grid_bins(query, visibility, bins: int) -> bytes:
    """Counts per bin from the grid: `query` is a ViewportQuery, `visibility` a Visibility."""
    sql, params, head = grid_sql(query, visibility, bins)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        total, cells = cursor.fetchone()
    body = {"mode": "bins", "count": int(total), **head}
    return orjson.dumps(body)[:-1] + b',"cells":' + cells.encode() + b"}"
