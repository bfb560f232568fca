"""Query plans as a tree: SQLite's EXPLAIN QUERY PLAN and PostgreSQL's EXPLAIN (FORMAT JSON).

Both become :class:`PlanNode` trees (plain data: the GUI's tree model only displays them).
PostgreSQL's ``ANALYZE`` option runs the statement for real; callers say so before asking.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PlanNode:
    """One step of a plan; ``row`` is its place among its parent's children."""

    title: str
    relation: str = ""
    cost: str = ""
    rows: str = ""
    time: str = ""
    detail: str = ""
    children: list[PlanNode] = field(default_factory=list)
    parent: PlanNode | None = field(default=None, repr=False)
    row: int = 0

    def add(self, child: PlanNode) -> PlanNode:
        child.parent, child.row = self, len(self.children)
        self.children.append(child)
        return child

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Plan:
    """A plan's root (a placeholder holding the top steps) and its summary line."""

    root: PlanNode
    summary: str = ""
    analyzed: bool = False


# An EXPLAIN the user typed already: the plan is asked for the statement after it.
_EXPLAIN = re.compile(r"^\s*EXPLAIN\b\s*(QUERY\s+PLAN\b|\([^)]*\)|ANALY[SZ]E\b(\s+VERBOSE\b)?|VERBOSE\b)?\s*",
                      re.IGNORECASE)


def strip_explain(sql: str) -> str:
    """``sql`` without a leading EXPLAIN [QUERY PLAN | ANALYZE | (options)]."""
    return _EXPLAIN.sub("", sql, count=1)


def explain_sqlite(conn: Any, sql: str) -> Plan:
    """EXPLAIN QUERY PLAN rows (id, parent, notused, detail) as a tree; nothing is executed."""
    rows = conn.execute(f"EXPLAIN QUERY PLAN {strip_explain(sql)}").fetchall()
    root = PlanNode("plan")
    nodes: dict[int, PlanNode] = {0: root}
    for node_id, parent, _unused, detail in rows:
        parent_node = nodes.get(parent, root)
        nodes[node_id] = parent_node.add(PlanNode(str(detail), relation=_sqlite_relation(str(detail))))
    return Plan(root, f"{len(rows)} step(s)")


def _sqlite_relation(detail: str) -> str:
    words = detail.split()
    for i, word in enumerate(words[:-1]):
        if word in ("SCAN", "SEARCH") and words[i + 1] not in ("TABLE", "SUBQUERY", "CONSTANT"):
            return words[i + 1]
        if word == "TABLE":
            return words[i + 1]
    return ""


class _RollBack(Exception):
    """Leaves the transaction of an EXPLAIN ANALYZE without committing what the statement did."""


def explain_postgres(conn: Any, sql: str, analyze: bool = False) -> Plan:
    """EXPLAIN (FORMAT JSON[, ANALYZE]) as a tree of node type, relation, cost, rows and time.

    With ``analyze`` the statement really runs, inside a transaction that is rolled back after, so
    an INSERT, UPDATE or DELETE explained this way changes nothing (sequences still advance).
    """
    options = "FORMAT JSON, ANALYZE, BUFFERS" if analyze else "FORMAT JSON"
    statement = f"EXPLAIN ({options}) {strip_explain(sql)}"
    if not analyze or not hasattr(conn, "transaction"):
        return plan_from_json(conn.execute(statement).fetchone()[0], analyze)
    found: list[Any] = []
    try:
        with conn.transaction():
            found.append(conn.execute(statement).fetchone()[0])
            raise _RollBack
    except _RollBack:
        pass
    return plan_from_json(found[0], analyze)


def plan_from_json(value: Any, analyze: bool = False) -> Plan:
    data = json.loads(value) if isinstance(value, str | bytes) else value
    top = data[0] if isinstance(data, list) else data
    root = PlanNode("plan")
    _add_pg(root, top["Plan"], analyze)
    parts = []
    if "Planning Time" in top:
        parts.append(f"planning {top['Planning Time']:.3f} ms")
    if "Execution Time" in top:
        parts.append(f"execution {top['Execution Time']:.3f} ms")
    return Plan(root, ", ".join(parts), analyze)


def _add_pg(parent: PlanNode, node: dict[str, Any], analyze: bool) -> None:
    relation = node.get("Relation Name") or node.get("CTE Name") or node.get("Function Name") or ""
    if relation and node.get("Schema"):
        relation = f"{node['Schema']}.{relation}"
    if node.get("Alias") and node.get("Alias") != node.get("Relation Name"):
        relation = f"{relation} {node['Alias']}".strip()
    title = node.get("Node Type", "?")
    if title == "ModifyTable" and node.get("Operation"):
        title = str(node["Operation"])  # as PostgreSQL's text format says: "Delete on t"
    if node.get("Join Type"):
        title = f"{node['Join Type']} {title}"
    if node.get("Index Name"):
        title = f"{title} using {node['Index Name']}"
    cost = f"{node.get('Startup Cost', 0):.2f}..{node.get('Total Cost', 0):.2f}"
    rows = str(node.get("Plan Rows", ""))
    time = ""
    if analyze and "Actual Rows" in node:
        rows = f"{node['Actual Rows']} (est. {node.get('Plan Rows', '?')})"
        loops = node.get("Actual Loops", 1)
        time = f"{node.get('Actual Total Time', 0):.3f} ms" + (f" × {loops}" if loops != 1 else "")
    details = [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in node.items()
               if k in ("Filter", "Index Cond", "Hash Cond", "Merge Cond", "Join Filter", "Sort Key",
                        "Group Key", "Rows Removed by Filter")]
    child = parent.add(PlanNode(title, relation, cost, rows, time, "; ".join(map(str, details))))
    for sub in node.get("Plans", []):
        _add_pg(child, sub, analyze)
