"""Hot events (热点突发): thousands of callers about one matter, handled as one.

When a water main bursts, a hotline takes thousands of calls about it within hours.
The dedupe step (hub/dedupe.py) puts each appeal in its matter's cluster at a
constant cost per appeal; this package decides what the clusters mean for cases:

- ``desk``: in the pipeline's transaction, one case carries each matter and later
  callers' cases are linked to it (hub/lifecycle/linked.py); when a cluster passes
  the configured threshold within the window (``[surge]`` in routing.toml) a surge
  is raised for supervisors and operators.
- ``absorb``: a cluster telling the same matter as an active surge in other words
  joins it instead of raising a second surge.
- ``store``: what staff pages show (the call form's banner, the surge page with its
  callers) and what a supervisor changes (title, prepared answer, ending it).
- ``answers``: the prepared answer operators read out, with the hook for a future
  knowledge base.
- ``report``: surges and their callers in the weekly hot-issue report.
"""

from hub.surge.desk import DESK_SOURCES, SurgeDesk

__all__ = ["DESK_SOURCES", "SurgeDesk"]
