"""Telling a file's format from its content; the extension only breaks ties."""
