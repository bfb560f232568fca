"""Trees of values (Spyder's collections editor): the lazy read-only model, its editable form, its undo
commands.
"""
