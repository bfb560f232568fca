"""One package per file format, and File > New."""
