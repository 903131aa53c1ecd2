"""Defences against hostile input and abuse, each a small module with a narrow interface.

- ``text``: text the databases can store, secrets compared as bytes, bounded ids.
- ``jsonbody``: JSON bodies parsed with depth, number and text limits.
- ``clients``: the client's address (X-Forwarded-For only from trusted proxies).
- ``headers``: security headers and Cache-Control on every response.
- ``throttle``: atomic attempt counters shared by every process (logins, query codes,
  evaluations).
- ``passwords``: password strength, and hashing in its own bounded pool.
- ``devices``: signed device cookies for the QR evaluations.
- ``redirects``: same-site ``next`` targets.
- ``cells``: spreadsheet cells that cannot run formulas.
- ``urls``: paths and query strings holding NUL characters refused at the door.
"""
