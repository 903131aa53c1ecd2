"""hub: intake and dispatch backend for a city's citizen appeals."""

__version__ = "0.1.0"
