"""The JSON tab: JSON and JSON Lines as a tree, as text and as a table."""
