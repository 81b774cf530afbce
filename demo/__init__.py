"""`make demo`: the whole pipeline on one real photo, from a fresh clone."""
