"""Trust and load: the real loader in a separate, isolated process."""
