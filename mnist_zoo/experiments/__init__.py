"""Experiments: comparisons between revisions, profiles, the search."""
