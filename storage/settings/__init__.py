"""The app's settings, saved database connections and where their passwords live."""
