"""Small text helpers shared by the views."""

from __future__ import annotations

from storage.core.sizes import size_text

# One size format everywhere (the window and ``inspect``): the storage helper, under the name the
# views import.
human_size = size_text

__all__ = ["human_size", "size_text"]
