"""Channel connectors: one module per channel kind, each a declarative class with one
async ``fetch(since)`` (connectors/base.py states the contract and the checkpoint's
rules once).

- ``registry``: finds every connector module by itself and checks sources.toml
  against the connectors' option declarations (``options``) at start.
- ``runner``: one pull; items, quarantine, upstream updates (``updates``) and the
  checkpoint in one transaction per batch; health and the circuit breaker.
- ``walk``: newest-first lists walked until stored items (boards, page-numbered APIs).
- ``jsonapi``: the declarative base of JSON channels (hotline, newsapp, subplatform).
- ``board``, ``rss``: HTML boards by CSS selectors, RSS/Atom feeds.
- ``fetch``: polite HTTP (pacing, retries, Retry-After, size cap).
- ``health``, ``replay``, ``cli``, ``schedule``, ``reference``: what operators see
  and do (`hub pull`, `hub sources`, `hub quarantine`, `hub replay`, `hub source
  reset`), scheduled pulls in `hub serve`, and the generated options reference.

Push channels (POST /api/v1/appeals) and the hub's own desks need no connector.
"""
