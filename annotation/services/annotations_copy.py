"""Fast SQL for the bulk service: rows locked with one array parameter, new annotations and their events
inserted with PostgreSQL COPY (the ORM on other databases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import orjson
from django.db import connection
from django.utils import timezone

from annotation.models import Annotation, AnnotationEvent

ANNOTATION_COLUMNS = (
    "id", "project_id", "pair_id", "task_id", "label_class_id", "geom_type", "geometry", "min_x", "min_y", "max_x",
    "max_y", "cx", "cy", "source", "author_id", "model_version_id", "confidence", "status", "weight", "properties",
    "version", "is_deleted", "created_at", "updated_at",
)
_ROW_VALUES = attrgetter(*ANNOTATION_COLUMNS)
_SAFE = frozenset(
    [*Annotation.Source.values, *Annotation.Status.values, *Annotation.GeomType.values]
)  # printable as they are in COPY text
EVENT_COLUMNS = ("annotation_id", "action", "actor_id", "model_version_id", "version", "before", "after", "at")


@dataclass(frozen=True)
class NewEvent:
    """An AnnotationEvent to insert (plain data: building model instances costs more than the insert)."""

    annotation_id: object
    action: str
    actor_id: int | None
    version: int
    before: dict | None
    after: dict | None
    model_version_id: int | None = None


@dataclass(slots=True)
class NewRow:
    """A new annotation as plain attributes, in ANNOTATION_COLUMNS order (a model instance costs several times
    more to build); the bulk service fills it like an Annotation and `insert_annotations` writes it."""

    id: object
    project_id: int
    pair_id: int
    task_id: int | None = None
    label_class_id: int | None = None
    geom_type: str = ""
    geometry: dict | None = None
    min_x: float = 0.0
    min_y: float = 0.0
    max_x: float = 0.0
    max_y: float = 0.0
    cx: float = 0.0
    cy: float = 0.0
    source: str = Annotation.Source.HUMAN.value
    author_id: int | None = None
    model_version_id: int | None = None
    confidence: float | None = None
    status: str = Annotation.Status.NONE.value
    weight: float = 1.0
    properties: dict = field(default_factory=dict)
    version: int = 1
    is_deleted: bool = False
    created_at: object = None
    updated_at: object = None

    def to_model(self) -> Annotation:
        return Annotation(**{c: getattr(self, c) for c in ANNOTATION_COLUMNS})


def _text(value) -> str:
    """One COPY text-format field (JSON text never holds a raw tab or newline, only backslashes to double)."""
    kind = type(value)
    if value is None:
        return "\\N"
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is float:
        return str(value)
    if kind is dict or kind is list:
        text = orjson.dumps(value).decode()
        return text.replace("\\", "\\\\") if "\\" in text else text
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _json(value) -> str:
    text = orjson.dumps(value).decode()
    return text.replace("\\", "\\\\") if "\\" in text else text


def _opt(value) -> str:
    return "\\N" if value is None else str(value)


def _new_row_line(r: NewRow, now: str) -> str:
    """One COPY line of a NewRow: ids and numbers print as they are, enums need no escaping, JSON only doubled
    backslashes."""
    return (
        f"{r.id}\t{r.project_id}\t{r.pair_id}\t{_opt(r.task_id)}\t{_opt(r.label_class_id)}\t{str(r.geom_type)}\t"
        f"{_json(r.geometry)}\t{r.min_x!r}\t{r.min_y!r}\t{r.max_x!r}\t{r.max_y!r}\t{r.cx!r}\t{r.cy!r}\t{str(r.source)}\t"
        f"{_opt(r.author_id)}\t{_opt(r.model_version_id)}\t{_opt(r.confidence)}\t{str(r.status)}\t{r.weight!r}\t"
        f"{_json(r.properties)}\t{r.version}\t{'t' if r.is_deleted else 'f'}\t{now}\t{now}\n"
    )


def _annotation_line(row, now: str) -> str:
    """The COPY line of a new row: the fast formatter for a plain NewRow stamped `now`, else value by value."""
    if type(row) is NewRow and row.created_at is row.updated_at and _SAFE.issuperset((row.geom_type, row.source, row.status)):
        return _new_row_line(row, now)
    return "\t".join(_text(v) for v in _ROW_VALUES(row)) + "\n"


_ACTIONS = frozenset(AnnotationEvent.Action.values)


def _event_line(e: NewEvent, now: str) -> str:
    """One COPY line of an event (the generic per-value `_text` cost ~25 ms per 1,000 events)."""
    action = e.action if e.action in _ACTIONS else _text(e.action)
    before = "\\N" if e.before is None else _json(e.before)
    after = "\\N" if e.after is None else _json(e.after)
    return (f"{e.annotation_id}\t{action}\t{_opt(e.actor_id)}\t{_opt(e.model_version_id)}\t{e.version}\t"
            f"{before}\t{after}\t{now}\n")


def _copy(table: str, columns: tuple[str, ...], rows: list[tuple], lines: list[str] | None = None) -> None:
    body = "".join("\t".join(_text(v) for v in row) + "\n" for row in rows) + "".join(lines or ())
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(body.encode())


def insert_annotations(rows: list[Annotation | NewRow], events: list[NewEvent]) -> None:
    """Insert new annotations and events: COPY on PostgreSQL, bulk_create on other databases."""
    if connection.vendor != "postgresql":
        Annotation.objects.bulk_create([r.to_model() if isinstance(r, NewRow) else r for r in rows])
        AnnotationEvent.objects.bulk_create(
            [AnnotationEvent(annotation_id=e.annotation_id, action=e.action, actor_id=e.actor_id, version=e.version,
                             before=e.before, after=e.after, model_version_id=e.model_version_id) for e in events]
        )
        return
    now = timezone.now()
    if 0 < len(rows) + len(events) <= 2 * NewRowStream.BATCH:
        _insert_small(rows, events, now)
        return
    stamp = now.isoformat()
    if rows:
        for row in rows:
            row.created_at = row.created_at or now
            row.updated_at = now
        _copy(Annotation._meta.db_table, ANNOTATION_COLUMNS, [], [_annotation_line(r, stamp) for r in rows])
    if events:
        _copy(AnnotationEvent._meta.db_table, EVENT_COLUMNS, [], [_event_line(e, stamp) for e in events])


class NewRowStream:
    """New annotations sent to PostgreSQL while the bulk loop is still validating the next ones.

    PostgreSQL inserts COPY rows as they arrive, so its index, trigger and constraint work for the first rows runs
    on the other core while Python builds the rest (a 1,000-item request spent ~120 ms in COPY after ~90 ms of
    Python, one after the other). For the same reason the transaction's foreign keys are checked immediately
    (as each row arrives) instead of all at COMMIT (~20 ms per 1,000 rows that nothing overlapped). A COPY holds
    the connection, so any query the loop makes (a context lookup, a replay check) first finishes the COPY in
    progress (an execute wrapper); the next new row opens another.
    Errors come out as Django's database errors (IntegrityError on a duplicate id), like a query's would.
    A request of at most BATCH rows is not streamed: its rows stay in `pending` and go in with the events in one
    statement (`insert_annotations`), which saves round trips on the common small save. So do all rows on other
    databases.
    """

    BATCH = 50

    def __init__(self, now, expected: int = BATCH) -> None:
        self.now, self.stamp = now, now.isoformat()
        self.postgres = connection.vendor == "postgresql"
        self.streaming = self.postgres and expected > self.BATCH  # else `pending` goes in with the events at the end
        self.pending: list[NewRow] = []
        self.lines: list[str] = []  # sent every BATCH rows
        self.cursor = self.copy_cm = self.copy = None
        self.hook = None

    def __enter__(self) -> NewRowStream:
        if self.streaming:
            with connection.cursor() as cursor:  # foreign keys checked as rows arrive, not all at COMMIT
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self.hook = connection.execute_wrapper(self._before_query)
            self.hook.__enter__()
        return self

    def _before_query(self, execute, sql, params, many, context):
        self.flush()
        return execute(sql, params, many, context)

    def write(self, row: NewRow) -> None:
        row.created_at = row.updated_at = self.now
        if not self.streaming:
            self.pending.append(row)
            return
        self.lines.append(_annotation_line(row, self.stamp))
        if len(self.lines) >= self.BATCH:
            self._send()

    def _send(self) -> None:
        with connection.wrap_database_errors:
            if self.copy is None:
                self.cursor = connection.cursor()
                self.copy_cm = self.cursor.cursor.copy(
                    f"COPY {Annotation._meta.db_table} ({', '.join(ANNOTATION_COLUMNS)}) FROM STDIN")
                self.copy = self.copy_cm.__enter__()
            self.copy.write("".join(self.lines))
        self.lines.clear()

    def flush(self, exc: BaseException | None = None) -> None:
        """Finish the COPY in progress (or, with `exc`, abort it: the transaction is rolling back)."""
        if exc is None and self.lines:
            self._send()
        self.lines.clear()
        if self.copy is None:
            return
        cm, cursor = self.copy_cm, self.cursor
        self.copy = self.copy_cm = self.cursor = None
        try:
            with connection.wrap_database_errors:
                cm.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        finally:
            cursor.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.flush(exc)
        finally:
            if self.hook is not None:
                self.hook.__exit__(None, None, None)


# SQL types of the annotation columns (jsonb_to_recordset needs them: small inserts, set-based updates)
_COLUMN_TYPES = {
    "id": "uuid", "project_id": "bigint", "pair_id": "bigint", "task_id": "bigint", "label_class_id": "bigint",
    "geom_type": "text", "geometry": "jsonb", "min_x": "float8", "min_y": "float8", "max_x": "float8", "max_y": "float8",
    "cx": "float8", "cy": "float8", "source": "text", "author_id": "bigint", "model_version_id": "bigint",
    "confidence": "float8", "status": "text", "weight": "float8", "properties": "jsonb", "version": "integer",
    "is_deleted": "boolean", "created_at": "timestamptz", "updated_at": "timestamptz",
}
_EVENT_TYPES = {"annotation_id": "uuid", "action": "text", "actor_id": "bigint", "model_version_id": "bigint",
                "version": "integer", "before": "jsonb", "after": "jsonb", "at": "timestamptz"}


def _recordset(columns: tuple[str, ...], types: dict[str, str]) -> tuple[str, str]:
    return ", ".join(columns), ", ".join(f"{c} {types[c]}" for c in columns)


def _insert_small(rows: list, events: list[NewEvent], now) -> None:
    """A few new annotations and events in one statement (one round trip instead of two COPYs, four)."""
    for row in rows:
        row.created_at = row.created_at or now
        row.updated_at = now
    a_cols, a_types = _recordset(ANNOTATION_COLUMNS, _COLUMN_TYPES)
    e_cols, e_types = _recordset(EVENT_COLUMNS, _EVENT_TYPES)
    new_rows = orjson.dumps([dict(zip(ANNOTATION_COLUMNS, _ROW_VALUES(r), strict=True)) for r in rows]).decode()
    new_events = orjson.dumps([
        {"annotation_id": e.annotation_id, "action": e.action, "actor_id": e.actor_id, "model_version_id": e.model_version_id,
         "version": e.version, "before": e.before, "after": e.after, "at": now} for e in events
    ]).decode()
    sql = (
        f"WITH a AS (INSERT INTO {Annotation._meta.db_table} ({a_cols}) SELECT {a_cols} FROM"
        f" jsonb_to_recordset(%s::jsonb) AS v({a_types}) RETURNING 1)"
        f" INSERT INTO {AnnotationEvent._meta.db_table} ({e_cols}) SELECT {e_cols} FROM"
        f" jsonb_to_recordset(%s::jsonb) AS e({e_types})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [new_rows, new_events])


def locked_rows(ids: list) -> list[Annotation]:
    """The existing rows among `ids`, locked in id order (one array parameter on PostgreSQL: compiling an
    IN list of 1,000 placeholders costs more than the query)."""
    if connection.vendor == "postgresql":
        sql = f"SELECT * FROM {Annotation._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
        return list(Annotation.objects.raw(sql, [ids]))
    return list(Annotation.objects.select_for_update().filter(id__in=ids).order_by("id"))


def update_annotations(rows: list[Annotation], fields: list[str]) -> None:
    """Write `fields` of changed rows in one `UPDATE … FROM jsonb_to_recordset(…)` on PostgreSQL (Django's
    bulk_update builds a CASE per field and row: ~13 s for 1,000 rows here); bulk_update elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Annotation.objects.bulk_update(rows, fields)
        return
    values = orjson.dumps([{"id": r.id, **{f: getattr(r, f) for f in fields}} for r in rows]).decode()
    table = Annotation._meta.db_table
    assign = ", ".join(f"{f} = v.{f}" for f in fields)
    columns = ", ".join(["id uuid", *(f"{f} {_COLUMN_TYPES[f]}" for f in fields)])
    sql = f"UPDATE {table} a SET {assign} FROM jsonb_to_recordset(%s::jsonb) AS v({columns}) WHERE a.id = v.id"
    with connection.cursor() as cursor:
        cursor.execute(sql, [values])
