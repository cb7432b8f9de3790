"""QuPath GeoJSON export with the feature text built by PostgreSQL, streamed in large keyset chunks.

Python only joins the chunks: each chunk is one query (`id > last ORDER BY id LIMIT n`) whose result is the
comma-joined text of its features, so no cursor or transaction stays open between chunks and the stream can be
served asynchronously. Each row appears at most once and rows come in id order, as in the portable path
(`annotation.exchange.geojson.stream_feature_collection`), which this matches feature for feature (same keys and
values; jsonb prints `{"a": 1}` where orjson prints `{"a":1}`). Rows changed while an export runs show the state
of the moment their chunk was read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import orjson
from asgiref.sync import sync_to_async
from django.db import connection

from annotation.exchange.geojson import DETECTION_SOURCES
from annotation.exchange.records import hex_to_rgb
from annotation.models import LabelClass
from annotation.selectors.annotations import Visibility

CHUNK_ROWS = 20_000
_DETECTION = ", ".join(f"'{s}'" for s in sorted(DETECTION_SOURCES))
_MEASUREMENTS = (
    "(CASE WHEN a.confidence IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('confidence', a.confidence) END"
    " || CASE WHEN jsonb_typeof(a.properties -> 'measurements') = 'object' THEN a.properties -> 'measurements'"
    " ELSE '{}'::jsonb END)"
)
FEATURE_SQL = (
    "concat('{\"type\":\"Feature\",\"id\":\"', a.id, '\",\"geometry\":', a.geometry::text,"
    f" ',\"properties\":{{\"objectType\":\"', CASE WHEN a.source IN ({_DETECTION}) THEN 'detection' ELSE 'annotation' END,"
    " '\",\"isLocked\":false', coalesce(%s::jsonb ->> a.label_class_id::text, ''),"
    f" CASE WHEN {_MEASUREMENTS} = '{{}}'::jsonb THEN '' ELSE ',\"measurements\":' || {_MEASUREMENTS}::text END,"
    " ',\"laypath\":{\"source\":\"', a.source, '\",\"status\":\"', a.status, '\",\"author\":',"
    " coalesce(to_json(u.username)::text, 'null'), ',\"task\":', coalesce(a.task_id::text, 'null'), '}}}')"
)


def _class_fragments(project_id: int) -> str:
    """`{class id: ',"classification":{...}'}` as JSON, for the SQL to look each row's class up."""
    out = {}
    for cid, name, color in LabelClass.objects.filter(project_id=project_id).values_list("id", "name", "color"):
        classification: dict = {"name": name}
        rgb = hex_to_rgb(color)
        if rgb:
            classification["color"] = rgb
        out[str(cid)] = ',"classification":' + orjson.dumps(classification).decode()
    return orjson.dumps(out).decode()


def _where(visibility: Visibility, pair_id: int | None, task_id: int | None, sources: list[str] | None) -> tuple[str, list]:
    sql, params = "a.project_id = %s AND NOT a.is_deleted", [visibility.project_id]
    vis_sql, vis_params = visibility.sql("a")
    sql, params = sql + vis_sql, params + vis_params
    for column, value in (("pair_id", pair_id), ("task_id", task_id)):
        if value is not None:
            sql += f" AND a.{column} = %s"
            params.append(value)
    if sources:
        sql += " AND a.source = ANY(%s)"
        params.append(list(sources))
    return sql, params


def geojson_chunks(*, visibility: Visibility, pair_id: int | None = None, task_id: int | None = None,
                   sources: list[str] | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """A QuPath FeatureCollection as byte chunks of up to `chunk_rows` features each (PostgreSQL only)."""
    where, params = _where(visibility, pair_id, task_id, sources)
    classes = _class_fragments(visibility.project_id)
    yield b'{"type":"FeatureCollection","features":['
    last, first = None, True
    while True:
        after = " AND a.id > %s" if last is not None else ""
        sql = (
            "SELECT string_agg(f, ',' ORDER BY id), count(*), (array_agg(id ORDER BY id DESC))[1] FROM ("
            f"SELECT a.id, {FEATURE_SQL} AS f FROM annotation_annotation a LEFT JOIN auth_user u ON u.id = a.author_id"
            f" WHERE {where}{after} ORDER BY a.id LIMIT %s) s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [classes, *params, *([last] if last is not None else []), chunk_rows])
            text, count, last = cursor.fetchone()
        if not count:
            break
        yield (b"" if first else b",") + text.encode()
        first = False
        if count < chunk_rows:
            break
    yield b"]}"


async def as_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Serve a sync chunk iterator under ASGI without buffering it (Django lists a sync iterator first)."""
    step = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)
    while (chunk := await step()) is not None:
        yield chunk
