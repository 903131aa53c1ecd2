"""The dispatch catalogue (派单目录): finer categories x area -> responsible unit.

A 12345 centre dispatches by a catalogue revised every year, not by the first-level
category alone. ``lookup`` is the in-memory snapshot the router consults (and the
finer-category guess from the category tree); ``store`` keeps the versioned lines
with their effective dates, edits and spreadsheet imports.
"""
