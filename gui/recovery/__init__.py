"""Crash recovery in the window: journal each modified document, offer what a crashed session left."""
