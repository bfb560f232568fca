"""The headless inspect command and what it shows of any file: summaries, info, a bounded preview."""
