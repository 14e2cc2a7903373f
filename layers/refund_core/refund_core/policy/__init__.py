"""The Refund Policy itself, pure: money, the facts and records it speaks of, the versioned policy document,
the ten rules, the Hong Kong review calendar, what a reviewer may approve, and the emails it owes. No I/O,
no clock, no AWS: every moment is a parameter."""
