"""Annotation reads: per-user visibility (blind mode), the viewport query with level of detail, history."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import orjson
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet

from annotation.errors import InvalidInput, NotFound
from annotation.models import Annotation, AnnotationEvent, Role, SlidePair
from annotation.selectors.overview import grid_applies, grid_bins
from annotation.selectors.projects import Access, user_role

MAX_FEATURES = 3000  # beyond this many polygons in view, send centroids
MAX_POINTS = 20000  # beyond this many centroids, send counts per bin
ZOOM_POINTS = 16.0  # level-0 px per screen px from which cells are dots, not outlines
ZOOM_BINS = 64.0  # ... and from which they are counted per bin
DEFAULT_BINS = 64
MAX_BINS = 256
OVERVIEW_CACHE_S = 15


@dataclass(frozen=True)
class Visibility:
    """Which annotations of a project a user sees: all, or (blind annotator) their own plus open model proposals.

    A model proposal has no author until an annotator accepts, rejects or edits it; from then on it is that
    annotator's label (their decision), so under blind mode the others no longer see it nor what was decided.
    """

    project_id: int
    own_only_user_id: int | None = None

    def q(self) -> Q:
        base = Q(project_id=self.project_id)
        if self.own_only_user_id is not None:
            base &= Q(author_id=self.own_only_user_id) | Q(source=Annotation.Source.MODEL, author__isnull=True)
        return base

    def sql(self, alias: str = "a") -> tuple[str, list]:
        if self.own_only_user_id is None:
            return "", []
        return (f" AND ({alias}.author_id = %s OR ({alias}.source = 'model' AND {alias}.author_id IS NULL))",
                [self.own_only_user_id])

    def grid_sql(self, alias: str = "g") -> tuple[str, list]:
        """The same rule on the density grid, whose rows key a missing author as 0."""
        if self.own_only_user_id is None:
            return "", []
        return (f" AND ({alias}.author_key = %s OR ({alias}.source = 'model' AND {alias}.author_key = 0))",
                [self.own_only_user_id])

    def allows(self, row: Annotation) -> bool:
        """The same rule for one row already in memory."""
        return self.own_only_user_id is None or row.author_id == self.own_only_user_id or (
            row.source == Annotation.Source.MODEL and row.author_id is None
        )


def visibility_for(*, user, access: Access) -> Visibility:
    """Blind mode hides other annotators' labels from annotators; reviewers, managers and admins see all."""
    blind = access.project.blind_mode and access.role == Role.ANNOTATOR.value
    return Visibility(project_id=access.project.id, own_only_user_id=user.id if blind else None)


def pair_access(*, user, pair_id: int | None) -> tuple[SlidePair, Access]:
    """A slide pair the user can see and their access to its project (404 otherwise)."""
    pair = SlidePair.objects.select_related("project", "anatomical").filter(id=pair_id).first() if pair_id else None
    role = user_role(user=user, project_id=pair.project_id) if pair is not None else None
    if pair is None or role is None:
        raise NotFound("Slide pair not found.")
    return pair, Access(project=pair.project, role=role)


def annotation_get_for_user(*, user, annotation_id, include_deleted: bool = True) -> tuple[Annotation, Access]:
    """One annotation the user may see, with their access to its project (404 otherwise)."""
    row = Annotation.objects.select_related("project").filter(id=annotation_id).first()
    role = user_role(user=user, project_id=row.project_id) if row is not None else None
    if row is None or role is None:
        raise NotFound("Annotation not found.")
    access = Access(project=row.project, role=role)
    if not Annotation.objects.filter(visibility_for(user=user, access=access).q(), id=row.id).exists():
        raise NotFound("Annotation not found.")
    if row.is_deleted and not include_deleted:
        raise NotFound("Annotation not found.")
    return row, access


def annotation_list_for_user(*, user, access: Access, pair_id: int | None = None) -> QuerySet[Annotation]:
    """Live annotations of a project the user sees under blind mode."""
    qs = Annotation.objects.filter(visibility_for(user=user, access=access).q(), is_deleted=False)
    return qs.filter(pair_id=pair_id) if pair_id is not None else qs


def annotation_history_for_user(*, user, annotation_id) -> list[AnnotationEvent]:
    """Events of a visible annotation; a blind annotator sees only their own and the model's actions."""
    row, access = annotation_get_for_user(user=user, annotation_id=annotation_id)
    events = AnnotationEvent.objects.filter(annotation_id=row.id).order_by("version", "id")
    if visibility_for(user=user, access=access).own_only_user_id is not None:
        events = events.filter(Q(actor=user) | Q(actor__isnull=True))
    return list(events)


@dataclass(frozen=True)
class ViewportQuery:
    """A viewport in H&E level-0 px, the zoom (level-0 px per screen px) and optional filters."""

    pair_id: int
    x0: float
    y0: float
    x1: float
    y1: float
    zoom: float = 1.0
    task_id: int | None = None
    label_class_id: int | None = None
    source: str | None = None
    bins: int = DEFAULT_BINS


def parse_bbox(text: str | None) -> tuple[float, float, float, float]:
    """`x0,y0,x1,y1` -> ordered finite floats (400 `invalid` otherwise)."""
    try:
        values = [float(v) for v in (text or "").split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput("bbox must be x0,y0,x1,y1 (four numbers).")
    x0, y0, x1, y1 = values
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def filters_sql(query: ViewportQuery, visibility: Visibility, by_centroid: bool = False) -> tuple[str, list]:
    if by_centroid:  # bins count centroids: an index-only scan of ann_pair_centroid
        sql = "a.pair_id = %s AND NOT a.is_deleted AND a.cx BETWEEN %s AND %s AND a.cy BETWEEN %s AND %s"
        params: list = [query.pair_id, query.x0, query.x1, query.y0, query.y1]
    else:  # outlines and dots intersect the box: the GiST index ann_bbox_gist
        sql = (
            "a.pair_id = %s AND NOT a.is_deleted"
            " AND box(point(a.min_x, a.min_y), point(a.max_x, a.max_y)) && box(point(%s, %s), point(%s, %s))"
        )
        params = [query.pair_id, query.x0, query.y0, query.x1, query.y1]
    vis_sql, vis_params = visibility.sql("a")
    sql += vis_sql
    params += vis_params
    if query.task_id is not None:
        sql += " AND (a.task_id = %s OR a.source = 'model')"
        params.append(query.task_id)
    if query.label_class_id is not None:
        sql += " AND a.label_class_id = %s"
        params.append(query.label_class_id)
    if query.source:
        sql += " AND a.source = %s"
        params.append(query.source)
    return sql, params


# A feature's JSON text is a stored generated column (migration 0009), so a viewport only aggregates text.
FEATURE_SQL = "feature_json"
_NUM = "coalesce({}::text, 'null')"
POINT_SQL = (
    "concat('[\"', id, '\",', round(cx * 10) / 10, ',', round(cy * 10) / 10, ',', "
    + _NUM.format("label_class_id") + ", ',\"', source, '\"]')"
)


def capped_sql(where: str, element: str, cap: int) -> str:
    """One text row per annotation (at most cap + 1 of them: one more than the cap tells the caller to step down).

    Rows, not `string_agg`: joining 2,000 texts in Python costs less than PostgreSQL concatenating them into one
    value and sending that (about 2 ms of a 7 ms query).
    """
    return f"SELECT {element} FROM annotation_annotation a WHERE {where} LIMIT {int(cap) + 1}"


def features_or_points(query: ViewportQuery) -> tuple[tuple[str, str, int], ...]:
    """The modes to try for a zoom, finest first: (mode, per-row SQL element, cap)."""
    modes = []
    if query.zoom < ZOOM_POINTS:
        modes.append(("features", FEATURE_SQL, MAX_FEATURES))
    if query.zoom < ZOOM_BINS:
        modes.append(("points", POINT_SQL, MAX_POINTS))
    return tuple(modes)


def capped_body(mode: str, texts: list) -> bytes:
    """The response body of a features/points answer from its row texts (str or bytes)."""
    joined = b",".join(t if isinstance(t, bytes) else t.encode() for t in texts)
    return b'{"mode":"%s","count":%d,"%s":[%s]}' % (mode.encode(), len(texts), mode.encode(), joined)


def _bins_sql(query: ViewportQuery, visibility: Visibility) -> bytes:
    where, params = filters_sql(query, visibility, by_centroid=True)
    n = max(1, min(query.bins, MAX_BINS))
    cell_w = max((query.x1 - query.x0) / n, 1e-9)
    cell_h = max((query.y1 - query.y0) / n, 1e-9)
    sql = (
        "SELECT coalesce(sum(c), 0), '[' || coalesce(string_agg(concat('[', i, ',', j, ',', c, ']'), ','), '') || ']' FROM ("
        "SELECT least(greatest(floor((a.cx - %s) / %s)::int, 0), %s) AS i,"
        " least(greatest(floor((a.cy - %s) / %s)::int, 0), %s) AS j, count(*) AS c"
        f" FROM annotation_annotation a WHERE {where} GROUP BY 1, 2) s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [query.x0, cell_w, n - 1, query.y0, cell_h, n - 1, *params])
        total, cells = cursor.fetchone()
    grid = {"mode": "bins", "count": int(total), "x0": query.x0, "y0": query.y0, "cell_w": cell_w, "cell_h": cell_h, "nx": n, "ny": n}
    return orjson.dumps(grid)[:-1] + b',"cells":' + cells.encode() + b"}"


def _bins_cached(query: ViewportQuery, visibility: Visibility) -> bytes:
    """Counts per bin, kept OVERVIEW_CACHE_S in the cache: an overview may lag writes by that much."""
    key = "ann-bins:" + hashlib.sha1(repr((query, visibility)).encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = _bins_sql(query, visibility)
        cache.set(key, found, OVERVIEW_CACHE_S)
    return found


def _viewport_postgres(query: ViewportQuery, visibility: Visibility) -> bytes:
    where, params = filters_sql(query, visibility)
    for mode, element, cap in features_or_points(query):
        with connection.cursor() as cursor:
            cursor.execute(capped_sql(where, element, cap), params)
            texts = [r[0] for r in cursor.fetchall()]
        if len(texts) <= cap:
            return capped_body(mode, texts)
    bins = max(1, min(query.bins, MAX_BINS))
    if grid_applies(width=query.x1 - query.x0, height=query.y1 - query.y0, bins=bins, task_id=query.task_id):
        return grid_bins(query, visibility, bins)  # exact and fresh: no cache needed
    return _bins_cached(query, visibility)


def _viewport_orm(query: ViewportQuery, visibility: Visibility) -> bytes:
    qs = Annotation.objects.filter(
        visibility.q(), pair_id=query.pair_id, is_deleted=False, min_x__lte=query.x1, max_x__gte=query.x0,
        min_y__lte=query.y1, max_y__gte=query.y0,
    )
    if query.task_id is not None:
        qs = qs.filter(Q(task_id=query.task_id) | Q(source=Annotation.Source.MODEL))
    if query.label_class_id is not None:
        qs = qs.filter(label_class_id=query.label_class_id)
    if query.source:
        qs = qs.filter(source=query.source)
    if query.zoom < ZOOM_POINTS:
        fields = ("id", "version", "label_class_id", "source", "status", "task_id", "author_id", "confidence", "geometry")
        rows = list(qs.values(*fields)[: MAX_FEATURES + 1])
        if len(rows) <= MAX_FEATURES:
            features = [{k.removesuffix("_id") if k != "id" else k: v for k, v in r.items()} for r in rows]
            return orjson.dumps({"mode": "features", "count": len(rows), "features": features})
    if query.zoom < ZOOM_BINS:
        rows = list(qs.values_list("id", "cx", "cy", "label_class_id", "source")[: MAX_POINTS + 1])
        if len(rows) <= MAX_POINTS:
            points = [[str(r[0]), round(r[1], 1), round(r[2], 1), r[3], r[4]] for r in rows]
            return orjson.dumps({"mode": "points", "count": len(rows), "points": points})
    n = max(1, min(query.bins, MAX_BINS))
    cell_w = max((query.x1 - query.x0) / n, 1e-9)
    cell_h = max((query.y1 - query.y0) / n, 1e-9)
    counts: dict[tuple[int, int], int] = {}
    inside = qs.filter(cx__gte=query.x0, cx__lte=query.x1, cy__gte=query.y0, cy__lte=query.y1)
    for cx, cy in inside.values_list("cx", "cy").iterator():
        key = (min(max(int((cx - query.x0) // cell_w), 0), n - 1), min(max(int((cy - query.y0) // cell_h), 0), n - 1))
        counts[key] = counts.get(key, 0) + 1
    cells = [[i, j, c] for (i, j), c in counts.items()]
    grid = {"x0": query.x0, "y0": query.y0, "cell_w": cell_w, "cell_h": cell_h, "nx": n, "ny": n}
    return orjson.dumps({"mode": "bins", "count": sum(counts.values()), **grid, "cells": cells})


def annotation_viewport(*, user, access: Access, query: ViewportQuery) -> bytes:
    """JSON bytes of what is in view: polygons, else centroids, else counts per bin (built in SQL on PostgreSQL)."""
    visibility = visibility_for(user=user, access=access)
    if connection.vendor == "postgresql":
        return _viewport_postgres(query, visibility)
    return _viewport_orm(query, visibility)


def annotation_counts(*, user, access: Access, pair_id: int | None = None) -> dict:
    """Counts of visible live annotations by status, class and source."""
    qs = annotation_list_for_user(user=user, access=access, pair_id=pair_id)
    out = {}
    for field, key in (("status", "by_status"), ("label_class_id", "by_class"), ("source", "by_source")):
        out[key] = {str(r[field]): r["n"] for r in qs.values(field).annotate(n=Count("id")).order_by(field)}
    out["total"] = sum(out["by_status"].values())
    return out
