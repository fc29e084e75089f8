"""Pacing: a response whose body leaves at a link's rate (``/work?...&rate_kbps=R``), as a pure schedule.

Rules this module keeps:
- no I/O and no clock of its own: the loop asks ``take(now)`` what the link has carried by ``now`` and
  ``next_at()`` when to ask again, and turns that into a timer (``local_server.server``), never a sleep;
- a kilobit is 1000 bits: ``rate_kbps`` R carries R × 125 bytes per second;
- the header block leaves at once when the answer is ready (after its delay); body byte b leaves only once
  the link has had time to carry bytes 0..b, so the last byte leaves exactly size × 8 / (R × 1000) seconds
  after the answer was ready and never earlier: a round's ideal (``bench.shapes``) counts on that floor;
- the schedule is kept against the answer's start, not the last release, so a late timer is caught up on
  the next release instead of delaying every later byte (no drift).
"""

from __future__ import annotations

#: Lowest and highest rate: 1 kbit/s (a stalled mobile link) to 10 Gbit/s (faster than loopback serves
#: one connection, so no real rate is refused).
MIN_RATE_KBPS = 1
MAX_RATE_KBPS = 10_000_000
#: How much of the link's time one release covers. 50 ms keeps the server's wake-ups per paced connection
#: at 20 a second (1000 slow bodies: 20,000 timer events a second, a fraction of its one core) while the
#: body still arrives as a trickle: 1600 bytes, about one TCP segment, per release at 256 kbit/s.
TICK_S = 0.05


def bytes_per_second(rate_kbps: int) -> int:
    return rate_kbps * 125


class Pace:
    """The release schedule of one answer: ``head`` bytes at once, then ``length`` body bytes at the rate."""

    __slots__ = ("bytes_per_s", "chunk", "head", "length", "released", "start")

    def __init__(self, head: int, length: int, rate_kbps: int, start: float) -> None:
        if not MIN_RATE_KBPS <= rate_kbps <= MAX_RATE_KBPS:
            raise ValueError(f"rate_kbps must be in [{MIN_RATE_KBPS}, {MAX_RATE_KBPS}], got {rate_kbps}")
        self.head, self.length, self.start = head, length, start
        self.bytes_per_s = bytes_per_second(rate_kbps)
        self.chunk = max(1, round(self.bytes_per_s * TICK_S))
        self.released = 0  # bytes of the whole answer (head included) handed to the connection so far

    @property
    def done(self) -> bool:
        return self.released == self.head + self.length

    def take(self, now: float) -> tuple[int, int]:
        """The answer's byte range [start, stop) that leaves now: what the link carried since the last call."""
        elapsed = now - self.start
        if elapsed * self.bytes_per_s >= self.length:
            carried = self.length
        else:
            carried = max(0, int(elapsed * self.bytes_per_s))
        first, self.released = self.released, max(self.released, self.head + carried)
        return first, self.released

    def next_at(self) -> float:
        """When the next release is due: the link's time for one more chunk (or the rest of the body)."""
        body = min(self.length, self.released - self.head + self.chunk)
        return self.start + body / self.bytes_per_s
