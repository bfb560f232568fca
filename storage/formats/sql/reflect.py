"""The schema of a database of any SQLAlchemy dialect, through ``sqlalchemy.inspect`` (no Qt).

PostgreSQL has its own faster loader (:mod:`storage.formats.sql.pg_schema`); this one serves the other
dialects whose driver is installed (MySQL, MariaDB, SQL Server, Oracle, …).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.formats.sql.schema_types import Column, ForeignKey, Schema, SchemaObject, Table


def load_inspected_schema(conn: Any) -> Schema:
    """Tables with their row keys, views, materialized views and indexes of the default schema."""
    inspector = sa.inspect(conn)
    schema = Schema()
    default = inspector.default_schema_name
    schema.schemas = [default] if default else []
    for name in inspector.get_table_names():
        table = Table(name, "table", schema=default)
        pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
        fks = {fk["constrained_columns"][0]:
               ForeignKey(fk["referred_table"], (fk["referred_columns"] or [None])[0])
               for fk in inspector.get_foreign_keys(name) if fk.get("constrained_columns")}
        for col in inspector.get_columns(name):
            table.columns.append(Column(col["name"], str(col["type"]),
                                        pk.index(col["name"]) + 1 if col["name"] in pk else 0,
                                        not col.get("nullable", True),
                                        None if col.get("default") is None else str(col["default"]),
                                        0, fks.get(col["name"])))
        notnull = {c.name for c in table.columns if c.notnull}
        unique = [u["column_names"] for u in inspector.get_unique_constraints(name)
                  if set(u["column_names"]) <= notnull]
        table.key = list(pk) or (list(unique[0]) if unique else [])
        if not table.key:
            table.key_note = ("no primary key or unique NOT NULL key: rows are paged by OFFSET "
                              "and cannot be edited")
        schema.tables.append(table)
        for index in inspector.get_indexes(name):
            columns = ", ".join(str(c) for c in index.get("column_names") or [])
            schema.indexes.append(SchemaObject(index["name"] or "", "index", name,
                                               f"INDEX {index['name']} ON {name} ({columns})", default))
    for name in inspector.get_view_names():
        view = Table(name, "view", schema=default)
        view.columns = [Column(c["name"], str(c["type"])) for c in inspector.get_columns(name)]
        schema.views.append(view)
    return schema
