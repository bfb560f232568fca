"""The Tables tab: CSV, Parquet and Feather / Arrow files as lazy grids (read-only for now)."""
