"""The Objects tab: pickles, joblib, NumPy and shelves shown as value trees, never run."""
