"""The Files tab: a folder browser and any file as Text, Hex or Info."""
