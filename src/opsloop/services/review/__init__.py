"""Human review: routing predictions from the log to a queue, claims, decisions, figures."""

from opsloop.services.review.service import ReviewService

__all__ = ["ReviewService"]
