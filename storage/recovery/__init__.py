"""Crash recovery: the journal of unsaved edits and its payloads."""
