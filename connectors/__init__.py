"""Channel connectors (one module per channel kind).

Not built yet (issue 3): today appeals arrive through the push API
(POST /api/v1/appeals) and `hub import`. The planned interface is a declarative
class with one async ``fetch(since)`` generator and a shared runner that writes
items and the checkpoint in one transaction.
"""
