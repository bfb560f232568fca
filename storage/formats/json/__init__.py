"""JSON and JSON Lines: parse, edit, search, query, serialize."""
