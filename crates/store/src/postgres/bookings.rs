//! Postgres's own booking writes and busy-time reads.
//!
//! Conflicts are not checked before writing: the exclusion constraint
//! `bookings_no_overlap` refuses an active booking whose occupied range
//! overlaps another active booking of the same provider, atomically and
//! across every server instance, and the store maps that refusal (SQLSTATE
//! 23P01 on that constraint) to `Conflict`. A new booking whose occupied
//! range meets an external calendar's busy block is not inserted either
//! (checked by the insert statement itself), also a `Conflict`.

use std::sync::Arc;

use booking_domain::ports::StorageError;
use booking_domain::scheduling::BusySources;
use booking_domain::{AccountId, BookingId, ProviderId, TimeRange};
use diesel::OptionalExtension;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::cache;
use super::store::{Conn, PostgresStore};
use super::webhooks;
use crate::TxError;
use crate::bookings::{Write, is_overlap};
use crate::rows::{
    ACTIVE, BookedRow, BookingRow, BusyRead, ExternalRow, HeldRow, HoldColumns, MAX_OCCUPIED_SECS,
    TimeOffRow, busy_sources, seat_id, secs, secs_ceil,
};
use crate::schema::Json;
use crate::sql::Statement;

/// The booking insert's single statement after its first line (see
/// [`Guard`] for that line; `guard` is the relation it defines): the
/// removal of the provider's expired hold guard rows near the booking (and,
/// when it turns a hold into the booking, of that hold's guard row), the
/// booking, unless an external calendar blocks its time; its events; their
/// webhook deliveries; its calendar writes (one per writing connection of
/// the provider, under the booking's id also for a seat row, found by the
/// function `calendar_writers` through the partial index
/// `calendar_connections_writers`: see its migration for why a function);
/// and a `NOTIFY` when any deliveries were queued. Each part reads
/// the one before (nothing is written when the booking is not), foreign keys
/// are checked at the end of the statement, and the statement is its own
/// transaction: one round trip for the whole write.
///
/// `$1`-`$22` are the booking's columns, in the order listed; `$23`
/// event ids, `$24` kinds, `$25` previous starts, `$26` creation instants,
/// `$27` snapshots, `$28` kind bits; `$29` whether to check external busy
/// time, time off and the daily cap (only for an active booking); `$30` the
/// service's daily cap (`NULL`: none) and `$31`-`$32` the local day it
/// counts (see [`PostgresStore::insert_write`] for the lock that makes the
/// count exact), not counting collective bookings' seat rows; `$33` the
/// providers of a collective booking (`NULL`: one); `$34`-`$35` the
/// customer link's salt and hash, `$36` the events' actors; `$37` the hold
/// it turns into a booking (`''`: none) and `$38` [`MAX_OCCUPIED_SECS`].
/// Time off lasts at most 366 days (31622400 s), which bounds its index
/// scan. Its row is `(booked, events, queued, notified, converted, ok,
/// hold_was_live, calendar_queued)`.
///
/// Holds: an unexpired hold's guard row blocks the booking through
/// `bookings_no_overlap` like an active booking. An expired one must not,
/// so `purged` deletes the provider's expired guard rows overlapping the
/// booking first: the insert's one-time filter `(SELECT count(*) FROM
/// purged) >= 0` makes the insert wait for that delete, and the exclusion
/// check ignores rows this transaction deleted. Two inserts purging the
/// same expired row: the second waits for the first (a row lock, under the
/// guard's `lock_timeout`) and finds it gone. `purged` also takes the guard
/// row of `$37`, only while unexpired (`live`) and only when the booking's
/// own checks (`checks`: external busy time, time off, the daily cap) pass,
/// so the booking replaces its own hold in one statement and a refused
/// booking leaves the hold in place (an overlap refused by the exclusion
/// constraint fails the whole statement). `converted` says whether it took
/// the hold, `ok` whether the checks passed, `hold_was_live` whether the
/// hold was unexpired when the statement began (to tell HOLD_EXPIRED from a
/// conflict). The guard row is the hold's only row (see the migration
/// `2026-12-07-000700_hold_rows`), so nothing else goes with it.
macro_rules! insert_booking_sql {
    ($guard:literal) => {
        concat!(
            "WITH guard AS MATERIALIZED (SELECT ",
            $guard,
            " AS g),
checks AS MATERIALIZED (
    SELECT NOT ($29 AND EXISTS (
        SELECT 1 FROM calendar_busy c
        WHERE c.account_id = $2 AND c.provider_id = $4
            AND c.start_at < $9 AND c.start_at > $8 - 86400 AND c.end_at > $8))
    AND NOT ($29 AND EXISTS (
        SELECT 1 FROM time_off t
        WHERE t.account_id = $2 AND t.provider_id = $4
            AND t.end_at > $8 AND t.end_at <= $9 + 31622400 AND t.start_at < $9))
    AND ($30::bigint IS NULL OR NOT $29 OR (
        SELECT count(*) FROM bookings d
        WHERE d.account_id = $2 AND d.service_id = $3
            AND d.scheduled_at >= $31 AND d.scheduled_at < $32
            AND d.status IN ('pending', 'confirmed') AND strpos(d.id, '~') = 0) < $30) AS ok
    FROM guard
),
purged AS (
    DELETE FROM bookings p
    WHERE (SELECT count(*) FROM guard) > 0
        AND p.account_id = $2 AND p.provider_id = $4 AND p.status = 'held'
        AND p.occupied_start < $9 AND p.occupied_start > $8 - $38 AND p.occupied_end > $8
        AND (p.hold_expires_at <= $21 OR (p.id = $37 AND (SELECT ok FROM checks)))
    RETURNING p.id, p.hold_expires_at > $21 AS live
),
booking AS (
    INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min, scheduled_at,
        end_at, occupied_start, occupied_end, buffer_before, buffer_after, status,
        customer_email, customer_name, price_minor, currency, notes, metadata, cancel_reason,
        sequence, created_at, updated_at, provider_ids, link_salt, link_hash)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22, $33, $34, $35
    FROM guard
    WHERE (SELECT count(*) FROM purged) >= 0
    AND ($37 = '' OR EXISTS (SELECT 1 FROM purged WHERE id = $37 AND live))
    AND (SELECT ok FROM checks)
    RETURNING 1
),
event AS (
    INSERT INTO events (id, account_id, booking_id, kind, previous_scheduled_at, created_at,
        booking, actor)
    SELECT ev.id, $2, $1, ev.kind, ev.previous, ev.created_at, ev.snapshot, ev.actor
    FROM booking,
        unnest($23::text[], $24::text[], $25::bigint[], $26::bigint[], $27::jsonb[],
            $36::text[])
        WITH ORDINALITY AS ev (id, kind, previous, created_at, snapshot, actor, n)
    ORDER BY ev.n
    RETURNING 1
),
written AS (
    INSERT INTO calendar_writes (account_id, calendar_id, booking_id, next_attempt_at,
        created_at, updated_at)
    SELECT $2, k.id, split_part($1, '~', 1), $22, $22, $22
    FROM booking, calendar_writers($2, $4) AS k (id)
    RETURNING 1
),
queued AS (
    ",
            webhooks::fan_out_insert!("$23", "$24", "$26", "$28", "$2", ", booking"),
            "
)
SELECT (SELECT count(*) FROM booking) AS booked, (SELECT count(*) FROM event) AS events,
    (SELECT count(*) FROM queued) AS queued,
    CASE WHEN (SELECT count(*) FROM queued) > 0
        THEN pg_notify('booking_webhooks', '')::text END AS notified,
    (SELECT count(*) FROM purged WHERE id = $37 AND live) AS converted,
    (SELECT ok FROM checks) AS ok,
    EXISTS (SELECT 1 FROM bookings h
        WHERE h.account_id = $2 AND h.id = $37 AND h.status = 'held'
            AND h.hold_expires_at > $21) AS hold_was_live,
    (SELECT count(*) FROM written) AS calendar_queued"
        )
    };
}

/// The insert without a lock: waiting for another transaction is capped at
/// 50 ms (`lock_timeout`, local to this statement's transaction).
const INSERT_OPTIMISTIC: &str = insert_booking_sql!("set_config('lock_timeout', '50ms', true)");

/// The insert behind the provider's transaction-scoped advisory lock
/// (`$39` is the lock's key), released when the statement commits.
const INSERT_LOCKED: &str =
    insert_booking_sql!("pg_advisory_xact_lock(hashtextextended($39, 0))::text");

/// How an insert keeps concurrent overlapping inserts from waiting on each
/// other.
///
/// The exclusion constraint alone is correct, but two concurrent inserts that
/// overlap each wait for the other's transaction inside the constraint check:
/// a deadlock that Postgres only breaks after `deadlock_timeout` (1 s). Under
/// a burst of overlapping requests those pile up into chains that outlast any
/// client (seen with 200 requests over three processes).
///
/// Inserts that overlap nothing uncommitted (nearly all of them) never wait,
/// so they run [`Guard::Optimistic`]ally, side by side, with a short
/// `lock_timeout`: an insert that meets an overlapping uncommitted booking
/// waits at most that long (the other transaction usually commits sooner and
/// the insert fails with 23P01 at once), and a deadlock cancels both within
/// it. An insert that gave up runs again [`Guard::Locked`]: queued behind
/// every other locked write of the provider, where it meets only committed
/// rows or optimistic inserts that give up quickly. The constraint remains
/// the guard either way; the timeout only bounds the waiting.
///
/// The guard is the first relation of the statement, and the booking's row
/// is selected from it, so it is evaluated before the row is inserted (and
/// its constraint checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// No lock; waiting for another transaction is capped.
    Optimistic,
    /// The provider's transaction-scoped advisory lock, taken first.
    Locked,
}

/// The provider's advisory lock key (its hash is the lock).
fn lock_key(account: &str, provider: &str) -> String {
    format!("bookings/{account}/{provider}")
}

/// Queues this transaction behind any other locked write of the provider
/// (a transaction-scoped advisory lock, released at commit or rollback, so
/// it can never outlive the transaction on a pooled connection).
/// (Inside a booking update's transaction.)
impl PostgresStore {
    pub(crate) async fn lock_provider(
        conn: &mut Conn,
        account: &str,
        provider: &str,
    ) -> Result<(), TxError> {
        Self::serialize_tx(conn, lock_key(account, provider)).await
    }

    /// Queues this transaction behind every other that took the advisory
    /// lock of `key` (released at commit or rollback).
    pub(crate) async fn serialize_tx(conn: &mut Conn, key: String) -> Result<(), TxError> {
        // A cached statement (`sql_query` would be prepared again each time).
        Statement::<()>::new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(key)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Whether an updated booking overlaps another: never found here, the
    /// exclusion constraint refuses it in the update itself.
    pub(crate) async fn overlaps_another(_: &mut Conn, _: &BookingRow) -> Result<bool, TxError> {
        Ok(false)
    }
}

/// Whether `e` is a statement that gave up waiting for another transaction:
/// `lock_timeout` (55P03 lock_not_available) or a lost deadlock (40P01).
fn gave_up_waiting(e: &DieselError) -> bool {
    crate::sqlstate(e).is_some_and(|code| matches!(code.as_str(), "55P03" | "40P01"))
}

/// Whether `e` is a hold refused by `bookings_hold_slot`: a concurrent
/// hold of the key committed the place it picked.
fn is_taken_place(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("bookings_hold_slot")
    )
}

/// The SQL types of a hold read from its guard row, in [`HoldColumns`]'
/// order.
type HoldSql = (
    Text,
    Text,
    Text,
    Text,
    Text,
    BigInt,
    BigInt,
    BigInt,
    BigInt,
    BigInt,
    BigInt,
    BigInt,
    BigInt,
);

/// The row of the insert statement: `(booked, events, queued, notified,
/// converted, ok, hold_was_live, calendar_queued)`.
type InsertResult = (
    BigInt,
    BigInt,
    BigInt,
    Nullable<Text>,
    BigInt,
    Bool,
    Bool,
    BigInt,
);

/// Runs the insert's single statement with `guard`; returns how many
/// deliveries it queued. `Conflict` when the booking overlaps an active
/// booking (23P01) or an external busy block (nothing inserted).
async fn insert_statement(conn: &mut Conn, insert: &Write, guard: Guard) -> Result<usize, TxError> {
    let row = &insert.row;
    let events = &insert.events;
    let sql = match guard {
        Guard::Optimistic => INSERT_OPTIMISTIC,
        Guard::Locked => INSERT_LOCKED,
    };
    let mut statement = Statement::<InsertResult>::new(sql)
        .bind::<Text, _>(row.id.clone())
        .bind::<Text, _>(row.account_id.clone())
        .bind::<Text, _>(row.service_id.clone())
        .bind::<Text, _>(row.provider_id.clone())
        .bind::<BigInt, _>(row.duration_min)
        .bind::<BigInt, _>(row.scheduled_at)
        .bind::<BigInt, _>(row.end_at)
        .bind::<BigInt, _>(row.occupied_start)
        .bind::<BigInt, _>(row.occupied_end)
        .bind::<BigInt, _>(row.buffer_before)
        .bind::<BigInt, _>(row.buffer_after)
        .bind::<Text, _>(row.status.clone())
        .bind::<Text, _>(row.customer_email.clone())
        .bind::<Text, _>(row.customer_name.clone())
        .bind::<BigInt, _>(row.price_minor)
        .bind::<Text, _>(row.currency.clone())
        .bind::<Nullable<Text>, _>(row.notes.clone())
        .bind::<Json, _>(row.metadata.clone())
        .bind::<Nullable<Text>, _>(row.cancel_reason.clone())
        .bind::<BigInt, _>(row.sequence)
        .bind::<BigInt, _>(row.created_at)
        .bind::<BigInt, _>(row.updated_at)
        .bind::<Array<Text>, _>(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(
            events
                .iter()
                .map(|e| e.previous_scheduled_at)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<BigInt>, _>(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
        .bind::<Array<Json>, _>(events.iter().map(|e| e.booking.clone()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(webhooks::kind_bits(events)?)
        .bind::<Bool, _>(ACTIVE.contains(&row.status.as_str()))
        .bind::<Nullable<BigInt>, _>(insert.cap.map(|c| c.limit))
        .bind::<BigInt, _>(insert.cap.map_or(0, |c| c.day_start))
        .bind::<BigInt, _>(insert.cap.map_or(0, |c| c.day_end))
        .bind::<Nullable<Text>, _>(row.provider_ids.clone())
        .bind::<Nullable<Text>, _>(row.link_salt.clone())
        .bind::<Nullable<Text>, _>(row.link_hash.clone())
        .bind::<Array<Text>, _>(events.iter().map(|e| e.actor.clone()).collect::<Vec<_>>())
        .bind::<Text, _>(insert.hold.clone().unwrap_or_default())
        .bind::<BigInt, _>(MAX_OCCUPIED_SECS);
    if guard == Guard::Locked {
        statement = statement.bind::<Text, _>(lock_key(&row.account_id, &row.provider_id));
    }
    let result = statement
        .get_result::<(i64, i64, i64, Option<String>, i64, bool, bool, i64)>(conn)
        .await;
    if let Ok((1, .., calendar)) = &result {
        insert.note_calendar_writes(usize::try_from(*calendar).unwrap_or_default());
    }
    match result {
        // The hold was not taken: gone (expired, unknown, or converted by a
        // concurrent request) unless it was live and the booking's own
        // checks refused it, which leave it in place.
        Ok((_, _, _, _, 0, ok, live, _)) if insert.hold.is_some() => Err(if live && !ok {
            TxError::Conflict
        } else {
            TxError::HoldGone
        }),
        Ok((0, ..)) => Err(TxError::Conflict),
        Ok((1, written, queued, ..)) if usize::try_from(written).ok() == Some(events.len()) => {
            Ok(usize::try_from(queued).unwrap_or_default())
        }
        Ok((booked, written, ..)) => Err(TxError::Storage(StorageError::Internal(format!(
            "booking {}: the insert wrote {booked} booking(s) and {written} of {} event(s)",
            row.id,
            events.len()
        )))),
        Err(e) if is_overlap(&e) => Err(TxError::Conflict),
        Err(e) if guard == Guard::Optimistic && gave_up_waiting(&e) => Err(TxError::GaveUpWaiting),
        Err(e) => Err(TxError::Db(e)),
    }
}

/// A collective booking: one transaction behind the day's lock when the
/// service has a cap, then the advisory locks of all its providers (taken
/// in one order, so two such writes never wait for
/// each other crosswise), inserting its row with its events (the locked
/// insert statement, which checks external busy time, time off and the
/// daily cap) and then a seat row per other provider through the same
/// statement without events. The exclusion constraint refuses any row that
/// overlaps an active booking of its provider; a refusal of any of them
/// rolls the whole booking back: all or none.
async fn insert_collective(
    conn: &mut Conn,
    insert: &Write,
    seats: Vec<BookingRow>,
) -> Result<usize, TxError> {
    conn.transaction(async |conn| {
        // The day's lock first, as every capped write takes it.
        if let Some(cap) = insert.cap.filter(|_| insert.is_active()) {
            PostgresStore::serialize_tx(conn, cap.lock_key(&insert.row)).await?;
        }
        let mut providers = insert.row.providers();
        providers.sort();
        for provider in &providers {
            PostgresStore::lock_provider(conn, &insert.row.account_id, provider).await?;
        }
        let queued = insert_statement(conn, insert, Guard::Locked).await?;
        for seat in seats {
            let seat = Write {
                row: seat,
                events: Vec::new(),
                cap: None,
                hold: None,
                left: Vec::new(),
                calendar_queued: std::sync::atomic::AtomicBool::new(false),
            };
            insert_statement(conn, &seat, Guard::Locked).await?;
            insert.note_calendar_writes(usize::from(seat.queued_calendar_writes()));
        }
        Ok(queued)
    })
    .await
}

/// The hold insert's single statement after its first line (the same
/// [`Guard`] as a booking's): the removal of the provider's expired hold
/// guard rows near it (as in the booking insert) and of the key's expired
/// ones (freeing their places), then the hold's one row: its guard row in
/// `bookings` (status `'held'`, its key in `hold_key_id`, kept apart from
/// active bookings and other holds by `bookings_no_overlap`), unless
/// external busy time or time off overlaps it or its key already has `$15`
/// unexpired holds. The row takes a place of the key's `$15` in
/// `hold_slot`, one no unexpired hold of the key has in the snapshot,
/// picked at random; `bookings_hold_slot` refuses it (unique violation)
/// when a concurrent hold committed the same place first, and the caller
/// tries again (see the migration `2026-12-08-000100_hold_slots`). Its row
/// is `(held, active, earliest)`: whether it was written, and the key's
/// unexpired holds before it and the earliest expiry among them (for the
/// 429).
///
/// `$1` id, `$2` account, `$3` service, `$4` provider, `$5` duration
/// (minutes), `$6` start, `$7` end, `$8`-`$9` occupied range, `$10`-`$11`
/// buffers, `$12` expiry, `$13` now (its creation), `$14` key id, `$15` the
/// per-key limit, `$16` [`MAX_OCCUPIED_SECS`].
macro_rules! insert_hold_sql {
    ($guard:literal) => {
        concat!(
            "WITH guard AS MATERIALIZED (SELECT ",
            $guard,
            " AS g),
purged AS (
    DELETE FROM bookings p
    WHERE (SELECT count(*) FROM guard) > 0
        AND p.account_id = $2 AND p.status = 'held' AND p.hold_expires_at <= $13
        AND ((p.provider_id = $4 AND p.occupied_start < $9 AND p.occupied_start > $8 - $16
                AND p.occupied_end > $8)
            OR p.hold_key_id = $14)
    RETURNING p.id
),
mine AS (
    SELECT count(*) AS active, min(k.hold_expires_at) AS earliest,
        coalesce(array_agg(k.hold_slot), '{}') AS taken
    FROM bookings k
    WHERE k.account_id = $2 AND k.hold_key_id = $14 AND k.status = 'held'
        AND k.hold_expires_at > $13
),
place AS (
    SELECT s FROM generate_series(0, $15::integer - 1) s, mine
    WHERE s <> ALL (mine.taken)
    ORDER BY random() LIMIT 1
),
held AS (
    INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min, scheduled_at,
        end_at, occupied_start, occupied_end, buffer_before, buffer_after, status,
        customer_email, customer_name, price_minor, currency, notes, metadata, cancel_reason,
        sequence, created_at, updated_at, hold_expires_at, hold_key_id, hold_slot)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'held', '', '', 0, '', NULL,
        '{}'::jsonb, NULL, 0, $13, $13, $12, $14, place.s
    FROM guard, place
    WHERE (SELECT count(*) FROM purged) >= 0
    AND (SELECT active FROM mine) < $15
    AND NOT EXISTS (
        SELECT 1 FROM calendar_busy c
        WHERE c.account_id = $2 AND c.provider_id = $4
            AND c.start_at < $9 AND c.start_at > $8 - 86400 AND c.end_at > $8)
    AND NOT EXISTS (
        SELECT 1 FROM time_off t
        WHERE t.account_id = $2 AND t.provider_id = $4
            AND t.end_at > $8 AND t.end_at <= $9 + 31622400 AND t.start_at < $9)
    RETURNING 1
)
SELECT (SELECT count(*) FROM held) AS held, mine.active, mine.earliest
FROM mine"
        )
    };
}

/// The hold insert without a lock (see [`INSERT_OPTIMISTIC`]).
const HOLD_OPTIMISTIC: &str = insert_hold_sql!("set_config('lock_timeout', '50ms', true)");

/// The hold insert behind the provider's advisory lock (`$17` its key).
const HOLD_LOCKED: &str = insert_hold_sql!("pg_advisory_xact_lock(hashtextextended($17, 0))::text");

/// Runs the hold insert's statement with `guard`.
async fn hold_statement(
    conn: &mut Conn,
    h: &HoldColumns,
    max: i64,
    guard: Guard,
) -> Result<(), TxError> {
    let sql = match guard {
        Guard::Optimistic => HOLD_OPTIMISTIC,
        Guard::Locked => HOLD_LOCKED,
    };
    let mut statement = Statement::<(BigInt, BigInt, Nullable<BigInt>)>::new(sql)
        .bind::<Text, _>(h.id.clone())
        .bind::<Text, _>(h.account_id.clone())
        .bind::<Text, _>(h.service_id.clone())
        .bind::<Text, _>(h.provider_id.clone())
        .bind::<BigInt, _>(h.duration_min)
        .bind::<BigInt, _>(h.scheduled_at)
        .bind::<BigInt, _>(h.end_at())
        .bind::<BigInt, _>(h.occupied_start)
        .bind::<BigInt, _>(h.occupied_end)
        .bind::<BigInt, _>(h.buffer_before)
        .bind::<BigInt, _>(h.buffer_after)
        .bind::<BigInt, _>(h.expires_at)
        .bind::<BigInt, _>(h.created_at)
        .bind::<Text, _>(h.key_id.clone())
        .bind::<BigInt, _>(max)
        .bind::<BigInt, _>(MAX_OCCUPIED_SECS);
    if guard == Guard::Locked {
        statement = statement.bind::<Text, _>(lock_key(&h.account_id, &h.provider_id));
    }
    match statement.get_result::<(i64, i64, Option<i64>)>(conn).await {
        Ok((1, ..)) => Ok(()),
        Ok((_, active, earliest)) if active >= max => Err(TxError::TooManyHolds(earliest)),
        Ok(_) => Err(TxError::Conflict),
        Err(e) if is_overlap(&e) => Err(TxError::Conflict),
        Err(e) if guard == Guard::Optimistic && gave_up_waiting(&e) => Err(TxError::GaveUpWaiting),
        Err(e) => Err(TxError::Db(e)),
    }
}

/// Deletes the provider's expired hold guard rows overlapping `row`'s
/// occupied range (expired at its `updated_at`), so they cannot refuse the
/// row through the exclusion constraint.
const PURGE_EXPIRED_HOLDS: &str = "\
DELETE FROM bookings
WHERE account_id = $1 AND provider_id = $2 AND status = 'held'
    AND occupied_start < $4 AND occupied_start > $3 - $6 AND occupied_end > $3
    AND hold_expires_at <= $5";

/// Everything that blocks a provider over `[$3, $4)` (unix seconds), with
/// identities: its active bookings (`$6` statuses) except `$7` and its
/// seat row `$8` (id,
/// appointment, buffers), its time off, and its external calendars' busy
/// pieces with their connection's kind. One cached statement (fixed text),
/// so a read costs one round trip, and one row of arrays (each in start
/// order, `NULL` when empty) instead of a row per item: a dense month is a
/// thousand bookings, and per-row protocol messages and decoding were most
/// of a read's cost.
///
/// Its holds (expired ones too: readers drop those by their clock) are its
/// guard rows (status `'held'`, through the partial index `bookings_held`).
///
/// Each part is an index range scan bounded below by the longest possible
/// item of its kind (`$5` = `$3` minus [`MAX_OCCUPIED_SECS`] for bookings and holds,
/// a day for external pieces, 366 days for time off (bounded above by its
/// end), all capped by the schema).
const BUSY_SOURCES: &str = "\
SELECT b.ids, b.starts, b.ends, b.befores, b.afters, t.ids, t.starts, t.ends,
    c.ids, c.kinds, c.starts, c.ends, h.ids, h.starts, h.ends, h.expires
FROM (
    SELECT array_agg(id) AS ids, array_agg(scheduled_at) AS starts, array_agg(end_at) AS ends,
        array_agg(buffer_before) AS befores, array_agg(buffer_after) AS afters
    FROM (
        SELECT id, scheduled_at, end_at, buffer_before, buffer_after FROM bookings
        WHERE account_id = $1 AND provider_id = $2 AND occupied_start < $4
            AND occupied_start > $5 AND occupied_end > $3 AND status = ANY($6) AND id <> $7
            AND id <> $8
        ORDER BY occupied_start
    ) sorted
) b, (
    SELECT array_agg(id) AS ids, array_agg(start_at) AS starts, array_agg(end_at) AS ends
    FROM (
        SELECT id, start_at, end_at FROM time_off
        WHERE account_id = $1 AND provider_id = $2 AND end_at > $3
            AND end_at <= $4 + 31622400 AND start_at < $4
        ORDER BY start_at
    ) sorted
) t, (
    SELECT array_agg(calendar_id) AS ids, array_agg(kind) AS kinds,
        array_agg(start_at) AS starts, array_agg(end_at) AS ends
    FROM (
        SELECT c.calendar_id, k.kind, c.start_at, c.end_at
        FROM calendar_busy c
        JOIN calendar_connections k ON k.account_id = c.account_id AND k.id = c.calendar_id
        WHERE c.account_id = $1 AND c.provider_id = $2 AND c.start_at < $4
            AND c.start_at > $3 - 86400 AND c.end_at > $3
        ORDER BY c.start_at
    ) sorted
) c, (
    SELECT array_agg(id) AS ids, array_agg(occupied_start) AS starts,
        array_agg(occupied_end) AS ends, array_agg(expires_at) AS expires
    FROM (
        SELECT id, occupied_start, occupied_end, hold_expires_at AS expires_at FROM bookings
        WHERE account_id = $1 AND provider_id = $2 AND status = 'held'
            AND occupied_start < $4 AND occupied_start > $5 AND occupied_end > $3
        ORDER BY occupied_start
    ) sorted
) h";

/// The arrays of [`BUSY_SOURCES`]'s row.
type SourceArrays = (
    (
        Nullable<Array<Text>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
    ),
    (
        Nullable<Array<Text>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
    ),
    (
        Nullable<Array<Text>>,
        Nullable<Array<Text>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
    ),
    (
        Nullable<Array<Text>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
        Nullable<Array<BigInt>>,
    ),
);

/// The values of [`SourceArrays`].
type SourceValues = (
    (
        Option<Vec<String>>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
    ),
    (Option<Vec<String>>, Option<Vec<i64>>, Option<Vec<i64>>),
    (
        Option<Vec<String>>,
        Option<Vec<String>>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
    ),
    (
        Option<Vec<String>>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
    ),
);

/// Parallel arrays of one length (`None`: empty); different lengths are a
/// store bug.
fn same_length<const N: usize>(lengths: [usize; N]) -> Result<usize, StorageError> {
    let first = lengths.first().copied().unwrap_or_default();
    if lengths.iter().any(|&n| n != first) {
        return Err(StorageError::Internal(format!(
            "busy sources: arrays of lengths {lengths:?}"
        )));
    }
    Ok(first)
}

/// [`BUSY_SOURCES`]'s row back as rows.
fn source_rows(values: SourceValues) -> Result<BusySources, StorageError> {
    let ((ids, starts, ends, befores, afters), (off_ids, off_starts, off_ends), external, held) =
        values;
    let (ids, starts, ends, befores, afters) = (
        ids.unwrap_or_default(),
        starts.unwrap_or_default(),
        ends.unwrap_or_default(),
        befores.unwrap_or_default(),
        afters.unwrap_or_default(),
    );
    same_length([
        ids.len(),
        starts.len(),
        ends.len(),
        befores.len(),
        afters.len(),
    ])?;
    let booked: Vec<BookedRow> = ids
        .into_iter()
        .zip(starts)
        .zip(ends)
        .zip(befores)
        .zip(afters)
        .map(|((((id, s), e), b), a)| (id, s, e, b, a))
        .collect();
    let (off_ids, off_starts, off_ends) = (
        off_ids.unwrap_or_default(),
        off_starts.unwrap_or_default(),
        off_ends.unwrap_or_default(),
    );
    same_length([off_ids.len(), off_starts.len(), off_ends.len()])?;
    let off: Vec<TimeOffRow> = off_ids
        .into_iter()
        .zip(off_starts)
        .zip(off_ends)
        .map(|((id, s), e)| (id, s, e))
        .collect();
    let (cal_ids, kinds, cal_starts, cal_ends) = external;
    let (cal_ids, kinds, cal_starts, cal_ends) = (
        cal_ids.unwrap_or_default(),
        kinds.unwrap_or_default(),
        cal_starts.unwrap_or_default(),
        cal_ends.unwrap_or_default(),
    );
    same_length([cal_ids.len(), kinds.len(), cal_starts.len(), cal_ends.len()])?;
    let external: Vec<ExternalRow> = cal_ids
        .into_iter()
        .zip(kinds)
        .zip(cal_starts)
        .zip(cal_ends)
        .map(|(((id, k), s), e)| (id, k, s, e))
        .collect();
    let (hold_ids, hold_starts, hold_ends, expires) = held;
    let (hold_ids, hold_starts, hold_ends, expires) = (
        hold_ids.unwrap_or_default(),
        hold_starts.unwrap_or_default(),
        hold_ends.unwrap_or_default(),
        expires.unwrap_or_default(),
    );
    same_length([
        hold_ids.len(),
        hold_starts.len(),
        hold_ends.len(),
        expires.len(),
    ])?;
    let held: Vec<HeldRow> = hold_ids
        .into_iter()
        .zip(hold_starts)
        .zip(hold_ends)
        .zip(expires)
        .map(|(((id, s), e), x)| (id, s, e, x))
        .collect();
    busy_sources(booked, off, external, held)
}

impl PostgresStore {
    /// Inserts a booking, its events and their deliveries in one statement
    /// (optimistically first, see [`Guard`]); returns how many deliveries it
    /// queued.
    ///
    /// A booking of a service with a daily cap runs in a transaction that
    /// first takes the transaction-scoped advisory lock of the service's
    /// local day, in a statement of its own: under READ COMMITTED the insert
    /// statement's snapshot is taken after the lock is granted, so its count
    /// sees every booking committed by the writers queued before it (a lock
    /// taken inside the same statement would come after its snapshot).
    /// Uncapped writes keep their single statement.
    pub(crate) async fn insert_write(&self, insert: Arc<Write>) -> Result<usize, TxError> {
        let attempt = |guard: Guard| {
            let insert = Arc::clone(&insert);
            self.run("insert_booking", move |conn| {
                let insert = Arc::clone(&insert);
                Box::pin(async move {
                    let seats = insert.row.seats();
                    if !seats.is_empty() {
                        return insert_collective(conn, &insert, seats).await;
                    }
                    let cap = insert.cap.filter(|_| insert.is_active());
                    // One statement, a conversion too: it takes the hold
                    // only when the booking passes its checks.
                    if cap.is_none() {
                        return insert_statement(conn, &insert, guard).await;
                    }
                    conn.transaction(async |conn| {
                        if let Some(cap) = cap {
                            Self::serialize_tx(conn, cap.lock_key(&insert.row)).await?;
                        }
                        insert_statement(conn, &insert, guard).await
                    })
                    .await
                })
            })
        };
        match attempt(Guard::Optimistic).await {
            Err(TxError::GaveUpWaiting) => attempt(Guard::Locked).await,
            other => other,
        }
    }

    /// Inserts a hold (optimistically first, see [`Guard`]): `Conflict`
    /// when an active booking, an unexpired hold, time off or external busy
    /// time overlaps it, `TooManyHolds` when its key has `max` unexpired
    /// holds. A statement refused because a concurrent hold of the key
    /// committed the place it picked runs again: each refusal means one
    /// more committed hold of the key, so after at most `max` of them the
    /// key is full (or a place is free in the new snapshot).
    pub(crate) async fn insert_hold_write(
        &self,
        hold: Arc<HoldColumns>,
        max: i64,
    ) -> Result<(), TxError> {
        let attempt = |guard: Guard| {
            let hold = Arc::clone(&hold);
            self.run("insert_hold", move |conn| {
                let hold = Arc::clone(&hold);
                Box::pin(async move {
                    let mut refused = 0;
                    loop {
                        match hold_statement(conn, &hold, max, guard).await {
                            Err(TxError::Db(e)) if is_taken_place(&e) && refused <= max => {
                                refused += 1;
                            }
                            other => return other,
                        }
                    }
                })
            })
        };
        match attempt(Guard::Optimistic).await {
            Err(TxError::GaveUpWaiting) => attempt(Guard::Locked).await,
            other => other,
        }
    }

    /// Deletes the provider's expired hold guard rows that overlap `row`
    /// (a moved booking, inside its update's transaction, behind the
    /// provider's lock), so the exclusion constraint does not refuse it
    /// for a hold that has ended.
    pub(crate) async fn purge_expired_holds(
        conn: &mut Conn,
        row: &BookingRow,
    ) -> Result<(), TxError> {
        Statement::<()>::new(PURGE_EXPIRED_HOLDS)
            .bind::<Text, _>(row.account_id.clone())
            .bind::<Text, _>(row.provider_id.clone())
            .bind::<BigInt, _>(row.occupied_start)
            .bind::<BigInt, _>(row.occupied_end)
            .bind::<BigInt, _>(row.updated_at)
            .bind::<BigInt, _>(MAX_OCCUPIED_SECS)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Whether an unexpired hold overlaps the moved row: never found here,
    /// the exclusion constraint refuses it in the update itself (its
    /// expired guard rows were purged first).
    pub(crate) async fn held_against(_: &mut Conn, _: &BookingRow) -> Result<bool, TxError> {
        Ok(false)
    }

    /// The account's hold `id` (expired or not): its guard row, the hold's
    /// only row on Postgres.
    pub(crate) async fn hold_row(
        conn: &mut Conn,
        account: &str,
        id: &str,
    ) -> Result<Option<HoldColumns>, TxError> {
        Ok(Statement::<HoldSql>::new(
            "SELECT id, account_id, hold_key_id, service_id, provider_id, scheduled_at, \
                duration_min, buffer_before, buffer_after, occupied_start, occupied_end, \
                hold_expires_at, created_at \
            FROM bookings WHERE account_id = $1 AND id = $2 AND status = 'held'",
        )
        .bind::<Text, _>(account.to_owned())
        .bind::<Text, _>(id.to_owned())
        .get_result::<HoldColumns>(conn)
        .await
        .optional()?)
    }

    /// Deletes the account's hold `id` (its guard row, in one statement);
    /// its provider, or `None` when there was no such hold.
    pub(crate) async fn delete_hold_row(
        conn: &mut Conn,
        account: &str,
        id: &str,
    ) -> Result<Option<String>, TxError> {
        Ok(Statement::<Text>::new(
            "DELETE FROM bookings WHERE account_id = $1 AND id = $2 AND status = 'held' \
            RETURNING provider_id",
        )
        .bind::<Text, _>(account.to_owned())
        .bind::<Text, _>(id.to_owned())
        .get_result::<String>(conn)
        .await
        .optional()?)
    }

    /// The provider's busy time over `range`: every blocked range of
    /// [`PostgresStore::busy_sources_of`], in start order.
    pub(crate) async fn busy_times_of(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
        now: jiff::Timestamp,
    ) -> Result<Vec<TimeRange>, StorageError> {
        // Read from the shared (cached) value: no copy of every id. Holds
        // that expired since it was cached are dropped here, by `now`.
        let read = self
            .busy_sources_shared(account, provider, range, excluding)
            .await?;
        Ok(read.ranges(now))
    }

    /// What blocks the provider over `range`, with identities.
    pub(crate) async fn busy_sources_of(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<BusySources, StorageError> {
        let shared = self
            .busy_sources_shared(account, provider, range, excluding)
            .await?;
        Ok(match Arc::try_unwrap(shared) {
            Ok(read) => read.sources,
            Err(shared) => shared.sources.clone(),
        })
    }

    /// What blocks the provider over `range`, from the busy-time cache (see
    /// `cache.rs`) or [`BUSY_SOURCES`]; shared with the cache.
    async fn busy_sources_shared(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<Arc<BusyRead>, StorageError> {
        let account = account.as_str().to_owned();
        let provider = provider.as_str().to_owned();
        let excluding = excluding.map(|id| id.as_str().to_owned());
        let (start, end) = (secs(range.start()), secs_ceil(range.end()));
        // Only whole windows are cached (reschedules exclude a booking).
        let cached = excluding.is_none().then(|| {
            let group = cache::group(&account, &provider);
            let window = cache::busy_window(start, end);
            let epoch = self.inner.busy.get(&group, &window);
            (group, window, epoch)
        });
        let epoch = match cached {
            Some((_, _, Ok(sources))) => return Ok(sources),
            Some((group, window, Err(epoch))) => Some((group, window, epoch)),
            None => None,
        };
        let sources = self
            .run("busy_sources", |conn| {
                let statement = Statement::<SourceArrays>::new(BUSY_SOURCES)
                    .bind::<Text, _>(account.clone())
                    .bind::<Text, _>(provider.clone())
                    .bind::<BigInt, _>(start)
                    .bind::<BigInt, _>(end)
                    .bind::<BigInt, _>(start.saturating_sub(MAX_OCCUPIED_SECS))
                    .bind::<Array<Text>, _>(ACTIVE.to_vec())
                    // Ids are never empty, so "" excludes nothing.
                    .bind::<Text, _>(excluding.clone().unwrap_or_default())
                    // Its seat row for this provider, when it is collective.
                    .bind::<Text, _>(
                        excluding
                            .as_deref()
                            .map(|id| seat_id(id, &provider))
                            .unwrap_or_default(),
                    );
                Box::pin(async move {
                    let values: SourceValues = statement.get_result(conn).await?;
                    Ok(source_rows(values)?)
                })
            })
            .await
            .map_err(TxError::storage)?;
        let read = Arc::new(BusyRead::new(sources));
        if let Some((group, window, epoch)) = epoch {
            let cost = read.cost();
            self.inner
                .busy
                .fill(&group, &window, Arc::clone(&read), cost, epoch);
        }
        Ok(read)
    }
}
