"""How long this process's served requests take, and the probe interval that follows from it (pure)."""

from __future__ import annotations

import random

#: How often a share at its level tries one slot more, or leaves one free: this part of twenty answers' time (or
#: of 0.3 of a window, if less), drawn anew each time.
PROBE_INTERVAL = (0.5, 1.0)
PROBE_ANSWERS = 10


class AnswerTime:
    """
    The smoothed time to a served answer, and the jittered probe interval derived from it.

    :param window: Seconds per rate-limit window (before any answer, the guesses scale with it).
    :param rng: Where the jitter comes from (the policy's).
    """

    def __init__(self, window: float, rng: random.Random) -> None:
        self.window = window
        self.random = rng
        self.latency = 0.0  # smoothed time to a served answer

    def served(self, latency: float) -> None:
        self.latency = latency if not self.latency else 0.8 * self.latency + 0.2 * latency

    def typical(self) -> float:
        """How long a served request takes, as seen so far (before any: a guess, scaled to the window)."""
        return self.latency or min(1.0, self.window / 60)

    def probe_interval(self) -> float:
        # about twenty answers (a probe costs at most one refusal), at most 0.3 of a window; jittered
        answers = PROBE_ANSWERS * (self.latency or min(0.1, self.window / 600))  # before any: a short guess
        return min(0.3 * self.window, answers) * self.random.uniform(*PROBE_INTERVAL)
