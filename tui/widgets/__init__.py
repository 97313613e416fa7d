"""The chat screen's widgets, one per module (CSS in the matching .tcss file)."""
