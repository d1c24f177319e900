"""A request's claim on the key, from `Policy.sent` to `Policy.answered`: what the policy recalls of it then."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class Ticket:
    """One request's claim on the key, from `sent` to `answered`."""

    window: int  # which of our windows it was sent in
    others: int  # our requests already in flight when it was sent
    tokens: int  # reserved (estimated) tokens
    chars: int
    images: int
    path: str
    sent_at: float = 0.0
    round: int = 0  # the share's generation when sent: a refusal lowers the share once per generation
    level: float = 1.0  # the share in use when sent
