"""A guess at an SSH login's outcome from the sizes and counts of its encrypted packets.

After both ``SSH_MSG_NEWKEYS`` nothing of SSH can be read, but its shape can. What each side
sends is counted as *records*: the bytes one TCP segment delivers. A client request and the
server's answer to it make one *round trip*. An SSH user-authentication runs like this
(RFC 4252, and what OpenSSH, Dropbear and libssh clients do):

1. the client asks for the ``ssh-userauth`` service, the server accepts (round trip 1);
2. each authentication request (most clients first try the ``none`` method) is answered
   by ``USERAUTH_FAILURE``, the same short message listing the methods that can continue,
   so every failure answer has the same encrypted size; or by ``USERAUTH_SUCCESS``;
3. after a success the session opens a channel and the server starts talking: OpenSSH
   sends its host keys (hundreds of bytes), then the banner, the shell's prompt, output.

Hence the guess (:func:`guess`), in this order:

* ``success``: the server sent at least :data:`SUCCESS_BYTES` after the key exchange, or
  one answer of at least :data:`LARGE_ANSWER` bytes, or the connection went on for more
  than :data:`SUCCESS_ROUND_TRIPS` round trips (OpenSSH's ``MaxAuthTries`` is 6 by default:
  a connection still talking after 10 is past its authentication);
* ``failure``: the connection was closed (FIN or RST), it had the service round trip and at
  least one authentication answer, every answer was short (under :data:`LARGE_ANSWER`), and
  the last answer had the size of the first authentication answer (a ``USERAUTH_FAILURE``
  again: nothing happened after the last refusal but the close), or was longer than it: at
  ``MaxAuthTries`` OpenSSH answers the last try with a ``DISCONNECT``, whose reason text makes
  it longer, while a ``USERAUTH_SUCCESS`` is the shortest message there is. Which side sent
  the first FIN is reported (``closed_by``) but not relied on: after a ``DISCONNECT`` either
  side's FIN may come first;
* ``unknown`` otherwise: still open at the end of the capture, closed during the key
  exchange, or a shape neither rule fits.

``failure_answers`` counts the answers of the failure size: the refused attempts, plus the
``none`` probe most clients send first. Limits: public-key and keyboard-interactive
authentications answer with other sizes (``PK_OK``, ``INFO_REQUEST``); a successful
command that prints nothing may look short; a capture that misses packets, or several SSH
messages in one segment, shifts the counts; a second key exchange inside the session is
counted as traffic. It is a heuristic for spotting guessing where no sshd log reaches the
SOC, not a login record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUCCESS_BYTES = 2048  # server bytes after the key exchange: failed logins send far fewer
LARGE_ANSWER = 400  # an answer this long is no USERAUTH_FAILURE (tens of bytes)
SUCCESS_ROUND_TRIPS = 10  # past MaxAuthTries (6 by default), the service and none rounds
SMALL_RECORD = 128  # a record this short carries one or two control messages
MAX_ANSWERS = 32  # answer sizes kept (counts go on)
CLIENT, SERVER = 0, 1


@dataclass
class Shape:
    """Counts and sizes of the encrypted records of one connection."""

    records: list[int] = field(default_factory=lambda: [0, 0])  # client, server
    octets: list[int] = field(default_factory=lambda: [0, 0])
    small: list[int] = field(default_factory=lambda: [0, 0])
    largest: list[int] = field(default_factory=lambda: [0, 0])
    answers: list[int] = field(default_factory=list)  # server bytes per round trip
    round_trips: int = 0
    last_answer: int = 0
    asked: bool = False  # the client spoke since the server last answered
    first_at: float | None = None
    last_at: float = 0.0

    def add(self, side: int, size: int, when: float) -> None:
        if size <= 0:
            return
        if self.first_at is None:
            self.first_at = when
        self.last_at = max(self.last_at, when)
        self.records[side] += 1
        self.octets[side] += size
        self.small[side] += size <= SMALL_RECORD
        self.largest[side] = max(self.largest[side], size)
        if side == CLIENT:
            self.asked = True
        elif self.asked:  # the first record of an answer: a new round trip
            self.asked = False
            self.round_trips += 1
            self._close_answer()
            self.last_answer = size
        elif self.round_trips:  # more of the same answer
            self.last_answer += size
        # server records before any request (EXT_INFO after NEWKEYS) belong to no round trip

    def _close_answer(self) -> None:
        if self.round_trips > 1 and len(self.answers) < MAX_ANSWERS:
            self.answers.append(self.last_answer)

    def all_answers(self) -> list[int]:
        """Every answer, the last (still growing until the end) included."""
        if not self.round_trips:
            return []
        return [*self.answers, self.last_answer][-MAX_ANSWERS:]


@dataclass(frozen=True)
class Guess:
    outcome: str  # success, failure or unknown
    reason: str
    failure_answers: int


def guess(shape: Shape, closed_by: str) -> Guess:
    """The outcome the shape suggests; ``closed_by`` is client, server or none."""
    answers = shape.all_answers()
    service, auth = answers[:1], answers[1:]
    if shape.octets[SERVER] >= SUCCESS_BYTES:
        return Guess("success", f"the server sent {shape.octets[SERVER]} bytes", 0)
    if any(size >= LARGE_ANSWER for size in auth):
        return Guess("success", f"an answer of {max(auth)} bytes after the service one", 0)
    if shape.round_trips > SUCCESS_ROUND_TRIPS:
        return Guess("success", f"{shape.round_trips} round trips", 0)
    if closed_by == "none":
        return Guess("unknown", "the connection did not end in the capture", 0)
    if not service or not auth:
        return Guess("unknown", f"no authentication seen ({shape.round_trips} round trips)", 0)
    refusals = auth
    if len(auth) > 1 and auth[-1] > auth[0]:
        refusals = auth[:-1]  # the server's DISCONNECT ("Too many authentication failures")
    if refusals[-1] != refusals[0]:
        return Guess("unknown", "the last answer differs from the first refusal", 0)
    refused = refusals.count(refusals[0])
    return Guess(
        "failure", f"closed by the {closed_by} after {refused} answers of {auth[0]} bytes", refused
    )
