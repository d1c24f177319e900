"""One per-minute budget (requests or tokens) as far as answers tell it, and a request's estimated tokens."""

from __future__ import annotations

from dataclasses import dataclass

from haystack_integrations.common.jina.pacing.limits import IMAGE_TOKENS, INITIAL_TOKENS_PER_CHAR
from haystack_integrations.common.jina.pacing.signals import Signals
from haystack_integrations.common.jina.pacing.ticket import Ticket


@dataclass
class Budget:
    """One per-minute budget (requests or tokens) as far as we know it."""

    limit: int | None = None  # stated by the user; never learned (a mid-window figure is not the limit)
    hint: float | None = None  # what the last window was seen to hold: where the next one starts, until told
    seen: float | None = None  # what the current window is seen to hold (the most of remaining + answered)
    left: float | None = None  # what is left of the current window; None: unknown, do not pace
    unsure: float = 0.0  # of `left`: what our requests in flight may not be counted in yet
    told: bool = False  # an answer of the current window said what is left
    answered: float = 0.0  # what our requests of the current window cost once answered
    doubted: bool = False  # a low figure was doubted once this window (see `doubt`)
    refused: bool = False  # a refusal of this window said it is spent
    last_left: float | None = None  # what the last window had left when ours turned over (`None`: not told)

    def new_window(self) -> None:
        self.last_left = self.left if self.told and not self.refused else None
        if self.seen is not None:
            self.hint = self.seen
        # a stated limit the last window was seen not to hold (a key shared, a tier stated too high) is not
        # trusted over what was seen; the window's first answer corrects the guess either way
        guesses = [value for value in (self.limit, self.hint) if value is not None]
        self.left = float(min(guesses)) if guesses else None
        self.unsure, self.told, self.answered, self.seen = 0.0, False, 0.0, None
        self.doubted = self.refused = False

    def doubt(self) -> bool:
        """
        Whether what is left is a figure our own count does not explain: the window was seen to hold more than
        twice what we used of it, no refusal said it is spent, and it was not doubted yet. Then one request may
        look (its answer, or its refusal, says what is true), once per window.
        """
        if self.refused or self.doubted or not self.told or self.seen is None or self.left is None:
            return False
        if self.left + self.answered >= 0.5 * self.seen:
            return False
        self.doubted, self.told, self.left = True, False, self.seen - self.answered
        return True

    def spend(self, cost: float) -> None:
        if self.left is not None:
            self.left -= cost

    def settle(self, reserved: float, actual: float) -> None:
        """A request was served and cost `actual` (it reserved `reserved`)."""
        self.spend(actual - reserved)
        self.answered += actual

    def observe(self, remaining: int, in_flight: float, *, served: bool) -> None:
        """
        An answer's remaining figure, when `in_flight` is what our unanswered requests cost.

        The window's first figure replaces the guess it started with (so a budget can rise); after it the
        lowest wins, as answers may arrive out of order. `served`: a 2xx, whose figure also tells what the
        window holds (for the next window's guess).
        """
        if (
            not self.told
            or self.left is None
            or remaining < self.left
            or (remaining == self.left and in_flight < self.unsure)
        ):
            self.left, self.unsure = float(remaining), in_flight
        if served:
            self.seen = max(self.seen or 0.0, remaining + self.answered)
        self.told = True

    def blocks(self, cost: float, *, settled: bool) -> bool:
        """Whether `cost` may not fit; `settled`: none of our requests is in flight, so `left` is exact."""
        if self.left is None or self.left - (0 if settled else self.unsure) >= cost:
            return False
        ceiling = self.limit if self.limit is not None else self.hint
        return ceiling is None or cost <= ceiling  # a request larger than a whole window goes anyway


class TokenEstimate:
    """A request's tokens, from the characters and images it sends; served answers' `usage` calibrate it per path."""

    def __init__(self) -> None:
        self._tokens_per_char: dict[str, float] = {}

    def estimate(self, chars: int, images: int, path: str) -> int:
        """The tokens a request is expected to cost (calibrated by earlier answers to `path`)."""
        return round(chars * self._tokens_per_char.get(path, INITIAL_TOKENS_PER_CHAR)) + images * IMAGE_TOKENS

    def calibrate(self, ticket: Ticket, answer: Signals) -> int | None:
        """The tokens the answer reports in `usage`; they tune the estimate of later requests."""
        actual = answer.tokens_used
        if actual is None:
            return None
        if ticket.chars and not ticket.images:
            ratio = min(actual / ticket.chars, 10.0)  # an absurd count must not stop the key
            previous = self._tokens_per_char.get(ticket.path)
            self._tokens_per_char[ticket.path] = ratio if previous is None else 0.5 * previous + 0.5 * ratio
        return actual
