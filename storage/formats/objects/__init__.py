"""Python objects on disk: pickle, joblib, NumPy .npy/.npz, shelves; read safely, never run."""
