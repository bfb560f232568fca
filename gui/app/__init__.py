"""The app shell: the main window, its menus and actions, opening documents, the session, desktop
integration.
"""
