"""NumPy arrays beside a value tree or a dataset: a lazy table, a small plot, the pane that shows both."""
