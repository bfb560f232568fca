"""Text and binary files: read for editing, written back byte for byte; huge ones paged; hex."""
