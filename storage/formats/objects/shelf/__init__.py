"""shelve databases of every dbm backend, as raw bytes."""
