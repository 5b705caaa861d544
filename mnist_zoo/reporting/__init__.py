"""Reporting: the summary and leaderboard, model cards, figures, the page."""
