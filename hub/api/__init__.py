"""JSON API: intake for channels, and (later) staff and citizen actions."""
