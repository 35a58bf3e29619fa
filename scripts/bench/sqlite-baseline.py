"""The single-connection baseline of scripts/bench-sqlite.sh: the booking
transaction the SQLite store runs for POST /v1/bookings, one transaction per
booking, on one connection, as fast as it goes, for DURATION seconds.

BEGIN IMMEDIATE; the conflict check (active bookings of the provider whose
occupied range overlaps); the external busy-block check; the booking row; its
event row (with the booking's JSON snapshot); the webhook fan-out
(INSERT ... SELECT over the account's endpoints); COMMIT. Same file, same
pragmas (WAL, synchronous=FULL: a commit waits for its fsync; foreign keys) as the store's connections.

Usage: sqlite-baseline.py DB_PATH ACCOUNT PROVIDER DURATION
Prints: RESULT bookings=N duration_us=N
"""
import json
import sqlite3
import sys
import time

path, account, provider, duration = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
conn = sqlite3.connect(path, isolation_level=None)
for pragma in ("busy_timeout = 5000", "journal_mode = WAL", "foreign_keys = ON",
               "synchronous = FULL"):
    conn.execute("PRAGMA " + pragma)

MAX_OCCUPIED = (1440 + 2 * 10080) * 60
base, n = 6_000_000_000, 0
end = time.monotonic() + duration
start = time.monotonic()
while time.monotonic() < end:
    n += 1
    at = base + n * 900
    booking_id, event_id = f"bk_baseline_{n}", f"evt_baseline_{n}"
    now = int(time.time())
    snapshot = {
        "id": booking_id, "account_id": account, "service_id": "srv_quarter",
        "provider_id": provider, "duration_min": 15, "scheduled_at": at, "end_at": at + 900,
        "occupied_start": at, "occupied_end": at + 900, "buffer_before": 0, "buffer_after": 0,
        "status": "pending", "customer_email": "load@example.com", "customer_name": "Load Test",
        "price_minor": 1000, "currency": "USD", "notes": None, "metadata": {},
        "cancel_reason": None, "sequence": 0, "created_at": now, "updated_at": now,
    }
    conn.execute("BEGIN IMMEDIATE")
    clash = conn.execute(
        "SELECT id FROM bookings WHERE account_id = ? AND provider_id = ? AND occupied_start < ?"
        " AND occupied_start > ? AND occupied_end > ? AND status IN ('pending', 'confirmed')"
        " AND id <> ? LIMIT 1",
        (account, provider, at + 900, at - MAX_OCCUPIED, at, booking_id)).fetchone()
    blocked = conn.execute(
        "SELECT seq FROM calendar_busy WHERE account_id = ? AND provider_id = ? AND start_at < ?"
        " AND start_at > ? AND end_at > ? LIMIT 1",
        (account, provider, at + 900, at - 86400, at)).fetchone()
    if clash or blocked:
        conn.execute("ROLLBACK")
        continue
    conn.execute(
        "INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min,"
        " scheduled_at, end_at, occupied_start, occupied_end, buffer_before, buffer_after, status,"
        " customer_email, customer_name, price_minor, currency, notes, metadata, cancel_reason,"
        " sequence, created_at, updated_at)"
        " VALUES (?, ?, 'srv_quarter', ?, 15, ?, ?, ?, ?, 0, 0, 'pending', 'load@example.com',"
        " 'Load Test', 1000, 'USD', NULL, '{}', NULL, 0, ?, ?)",
        (booking_id, account, provider, at, at + 900, at, at + 900, now, now))
    conn.execute(
        "INSERT INTO events (id, account_id, booking_id, kind, previous_scheduled_at, created_at,"
        " booking) VALUES (?, ?, ?, 'booking.created', NULL, ?, ?)",
        (event_id, account, booking_id, now, json.dumps(snapshot)))
    conn.execute(
        "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, event_kind, state,"
        " round_attempts, next_attempt_at, created_at, updated_at)"
        " SELECT 'whd_' || lower(hex(randomblob(16))), account_id, id, ?, 'booking.created',"
        " 'pending', 0, ?, ?, ? FROM webhook_endpoints"
        " WHERE account_id = ? AND enabled = 1 AND (events & 1) <> 0",
        (event_id, now, now, now, account))
    conn.execute("COMMIT")
elapsed = time.monotonic() - start
print(f"RESULT bookings={n} duration_us={int(elapsed * 1e6)}")
