"""Model evaluation: metrics for a candidate and its champion, and their gate verdict."""
