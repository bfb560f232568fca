"""Database connections: the Connect dialog, saved connections, passwords off the GUI thread,
reconnecting.
"""
