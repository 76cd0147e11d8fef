"""What one logger still has to deliver: new data, uploads in flight, the backlog (sans I/O).

- **Live**: uploads collected while connected, sent first.
- **In flight**: written, waiting for their answer, by QN (a split upload has one QN per part).
- **Backlog**: uploads that went unanswered after every retry, what was in flight when a connection
  dropped, and what was collected while disconnected. They are resent (HJ 212-2025: ``RF=1``) only
  when no new upload waits, at most ``rate`` per second (a token bucket), so live and resent data
  interleave with priority to new data (HJ 212-2025 §8.1.2). An upload unanswered again waits twice
  as long before its next round (``retry_wait``); past ``limit`` uploads the oldest are dropped.

Times are the event loop's (wall) seconds, given by the caller.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

from envtrace.sim.logger import Upload
from envtrace.sim.runtime import Counters

__all__ = ["Outbox"]

_LOOKAHEAD = 32  # backlog uploads examined for one whose retry wait is over


class Outbox:
    """The delivery state of one station."""

    def __init__(self, counters: Counters, *, limit: int, rate: float, retry_max: float) -> None:
        self.counters = counters
        self.limit = limit
        self.rate = rate
        self.retry_max = retry_max
        self.live: deque[Upload] = deque()
        self.backlog: deque[Upload] = deque()
        self.inflight: dict[str, Upload] = {}
        self.in_flight: set[Upload] = set()
        self._tokens = 1.0
        self._tokens_at = 0.0

    # ------------------------------------------------------------------------------ filling

    def add_live(self, u: Upload) -> None:
        self.live.append(u)

    def add_backlog(self, u: Upload, not_before: float = 0.0) -> None:
        """Keep ``u`` for a later resend (no earlier than ``not_before``)."""
        u.rounds = max(u.rounds, 1)
        u.attempts, u.deadline, u.pending, u.not_before = 0, math.inf, set(), not_before
        if len(self.backlog) >= self.limit:
            self.counters.failed += self.backlog.popleft().frames
        self.backlog.append(u)
        self.counters.backlog_peak = max(self.counters.backlog_peak, len(self.backlog))

    def spill(self) -> None:
        """The connection is gone: in flight and waiting uploads join the backlog, oldest first."""
        back = sorted(self.in_flight, key=lambda u: u.data_time)
        pending = list(self.live)
        old = list(self.backlog)
        self.inflight.clear()
        self.in_flight.clear()
        self.live.clear()
        self.backlog.clear()
        for u in [*back, *pending, *old]:
            self.add_backlog(u)  # due at once after the next connect

    def reset_tokens(self, now: float) -> None:
        self._tokens, self._tokens_at = 1.0, now

    # ------------------------------------------------------------------------------ sending

    def next_upload(self, now: float, window: int) -> Upload | None:
        """The next upload to write (new data first), or None (window full, nothing due)."""
        if len(self.in_flight) >= window:
            return None
        if self.live:
            return self.live.popleft()
        i = self._backlog_ready(now)
        if i >= 0 and self._take_token(now):
            u = self.backlog[i]
            del self.backlog[i]
            return u
        return None

    def sent(self, u: Upload, qns: list[str], now: float, timeout: float) -> None:
        """``u`` was written under ``qns`` (all its parts, or the unanswered ones again)."""
        for qn in qns:
            self.inflight[qn] = u
        self.in_flight.add(u)
        u.attempts += 1
        u.deadline = now + timeout

    def due(self, now: float) -> list[Upload]:
        """In-flight uploads whose answer is overdue."""
        return [u for u in self.in_flight if u.deadline <= now]

    def give_back(self, u: Upload, now: float, ack_timeout: float) -> None:
        """``u`` exhausted its retries: to the backlog, waiting longer each round."""
        self._forget(u)
        u.rounds += 1
        self.add_backlog(u, not_before=now + min(self.retry_max, ack_timeout * 2.0 ** (u.rounds - 1)))

    def answered(self, qn: str) -> Upload | None:
        """The upload a positive answer for ``qn`` acknowledges (one part of it), if any."""
        u = self.inflight.pop(qn, None)
        if u is None:
            return None
        u.pending.discard(qn)
        if not u.pending:
            self.in_flight.discard(u)
        return u

    def refused(self, qn: str) -> Upload | None:
        """The centre refused ``qn``: its upload is given up (counted failed)."""
        u = self.inflight.get(qn)
        if u is not None:
            self.counters.failed += len(u.pending)
            self._forget(u)
        return u

    def retry_now(self, qn: str, now: float, retries: int) -> None:
        """The centre saw a bad CRC on ``qn``: write it again at once, even if out of retries."""
        u = self.inflight.get(qn)
        if u is not None:
            u.deadline = now
            u.attempts = min(u.attempts, retries)

    def _forget(self, u: Upload) -> None:
        for qn in u.pending:
            self.inflight.pop(qn, None)
        self.in_flight.discard(u)

    # ------------------------------------------------------------------------------ state

    def idle(self) -> bool:
        return not (self.live or self.inflight or self.backlog)

    def outstanding_frames(self) -> int:
        """Data frames not yet acknowledged: in flight, waiting, or in the backlog."""
        return (
            sum(len(u.pending) for u in self.in_flight)
            + sum(u.frames for u in self.live)
            + sum(u.frames for u in self.backlog)
        )

    def next_event(self, now: float, window: int) -> float:
        """When something is due: an answer deadline or the next backlog send."""
        t = math.inf
        for u in self.in_flight:
            t = min(t, u.deadline)
        if self.backlog and not self.live and len(self.in_flight) < window:
            due = min(u.not_before for u in itertools.islice(self.backlog, _LOOKAHEAD))
            wait = max(0.0, (1.0 - self._tokens) / max(self.rate, 1e-6))
            t = min(t, max(due, now + wait))
        return t

    def _backlog_ready(self, now: float) -> int:
        for i, u in enumerate(itertools.islice(self.backlog, _LOOKAHEAD)):
            if u.not_before <= now:
                return i
        return -1

    def _take_token(self, now: float) -> bool:
        self._tokens = min(max(1.0, self.rate), self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
