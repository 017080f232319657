"""Reports: results turned into something people read."""
