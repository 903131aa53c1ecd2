"""Replies to citizens: the quality check a reply passes before it goes out."""
