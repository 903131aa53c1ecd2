"""Unit rankings and published reports (周排名, 最难办事榜, 热点问题)."""
