//! Use-case tests with mocked ports (mockall): orchestration, error mapping,
//! and the events each change hands to the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;

use super::*;
use crate::ports::*;
use crate::scheduling::{BookedTime, BusySources, Reason};
use crate::{
    AccountId, Booking, BookingId, BookingStatus, Currency, Customer, Email, EventKind, LocalTime,
    Metadata, Minutes, Money, Price, PriceType, ProviderId, Service, ServiceId, TimeRange,
    Timezone, Weekday, WeekdaySet, WeeklyAvailability,
};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn account() -> AccountId {
    AccountId::from_trusted("acc_test")
}

fn seed_service(auto_confirm: bool) -> Service {
    let days: WeekdaySet = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ]
    .into_iter()
    .collect();
    let usd = Currency::parse("USD").unwrap();
    Service {
        id: ServiceId::from_trusted("srv_consultation"),
        account_id: account(),
        provider_id: ProviderId::from_trusted("prv_default"),
        team: None,
        name: "1-Hour Consultation".into(),
        description: None,
        duration: Minutes::new(60),
        price: Price {
            amount: Money::from_minor(15000, usd).unwrap(),
            kind: PriceType::Hourly,
        },
        availability: WeeklyAvailability::new(
            days,
            LocalTime::parse("09:00", "s").unwrap(),
            LocalTime::parse("17:00", "e").unwrap(),
            Timezone::parse("America/New_York").unwrap(),
        )
        .unwrap(),
        buffer_before: Minutes::ZERO,
        buffer_after: Minutes::ZERO,
        minimum_notice: Minutes::ZERO,
        auto_confirm,
        slot_interval: None,
        booking_horizon: None,
        max_bookings_per_day: None,
        cancel_cutoff: Minutes::ZERO,
        reschedule_cutoff: Minutes::ZERO,
        reminders: Vec::new(),
        archived: false,
        created_at: ts("2027-01-01T00:00:00Z"),
        updated_at: ts("2027-01-01T00:00:00Z"),
    }
}

/// The instant the fake clock shows unless a test sets another.
fn now() -> Timestamp {
    ts("2027-01-10T12:00:00Z")
}

/// The clock and id generator most use cases read: the clock stands still
/// at one instant, ids count up (`bk_0`, `evt_1`, ...), secrets are `a`s.
/// Each test builds the store mocks its use case takes (see
/// [`super::port_sets`]) and lends them with these.
struct Fakes {
    clock: MockClock,
    ids: MockIdGenerator,
}

impl Fakes {
    fn new() -> Self {
        Self::at(now())
    }

    fn at(now: Timestamp) -> Self {
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || now);
        let counter = Arc::new(AtomicUsize::new(0));
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(move |kind| {
            format!(
                "{}{}",
                kind.prefix(),
                counter.fetch_add(1, Ordering::SeqCst)
            )
        });
        ids.expect_webhook_secret()
            .returning(|| "whsec_c2VjcmV0".to_owned());
        ids.expect_secret().returning(|len| "a".repeat(len));
        Fakes { clock, ids }
    }
}

fn new_booking(at: &str) -> NewBooking {
    NewBooking {
        service: "srv_consultation".into(),
        scheduled_at: ts(at),
        customer: Customer {
            email: Email::parse("customer@example.com", "e").unwrap(),
            name: "John Doe".into(),
        },
        notes: None,
        metadata: Metadata::default(),
        hold_id: None,
    }
}

fn booking_at(at: &str, status: BookingStatus) -> Booking {
    let service = seed_service(false);
    Booking {
        id: BookingId::from_trusted("bk_1"),
        account_id: account(),
        service_id: service.id.clone(),
        provider_id: service.provider_id.clone(),
        provider_ids: Vec::new(),
        duration: Minutes::new(60),
        scheduled_at: ts(at),
        buffer_before: Minutes::ZERO,
        buffer_after: Minutes::ZERO,
        status,
        customer: new_booking(at).customer,
        price: service.price.amount,
        notes: None,
        metadata: Metadata::default(),
        cancel_reason: None,
        sequence: 0,
        created_at: ts("2027-01-09T00:00:00Z"),
        updated_at: ts("2027-01-09T00:00:00Z"),
        link: None,
    }
}

#[tokio::test]
async fn a_booking_is_inserted_with_its_created_event() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings
        .expect_busy_sources()
        .returning(|_, _, _, _| Ok(BusySources::default()));
    bookings
        .expect_insert_booking()
        .withf(|b, events| {
            b.status == BookingStatus::Pending
                && b.price.minor() == 15000
                && events.len() == 1
                && events[0].kind == EventKind::Created
                && events[0].booking == *b
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    // Monday 2027-01-18 10:00 in New York (EST) = 15:00Z.
    let booking = uc
        .create(new_booking("2027-01-18T15:00:00Z"))
        .await
        .unwrap();
    assert_eq!(booking.end_at(), ts("2027-01-18T16:00:00Z"));
}

#[tokio::test]
async fn auto_confirm_records_created_then_confirmed() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(true))));
    bookings
        .expect_busy_sources()
        .returning(|_, _, _, _| Ok(BusySources::default()));
    bookings
        .expect_insert_booking()
        .withf(|b, events| {
            b.status == BookingStatus::Confirmed
                && events.iter().map(|e| e.kind).collect::<Vec<_>>()
                    == [EventKind::Created, EventKind::Confirmed]
                && events[0].booking.status == BookingStatus::Pending
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    uc.create(new_booking("2027-01-18T15:00:00Z"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_store_conflict_becomes_booking_conflict_with_the_next_slot() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    // The 15:00Z hour is taken: the store says so on insert, and busy
    // sources (read only to explain the conflict) show it.
    bookings
        .expect_busy_sources()
        .times(1)
        .returning(|_, _, _, _| {
            Ok(BusySources {
                bookings: vec![BookedTime {
                    id: BookingId::from_trusted("bk_taken"),
                    range: TimeRange::new(ts("2027-01-18T15:00:00Z"), ts("2027-01-18T16:00:00Z"))
                        .unwrap(),
                    buffer_before: Minutes::ZERO,
                    buffer_after: Minutes::ZERO,
                }],
                ..BusySources::default()
            })
        });
    bookings
        .expect_insert_booking()
        .returning(|_, _| Err(CreateBookingError::Conflict));
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    match uc.create(new_booking("2027-01-18T15:00:00Z")).await {
        Err(BookingError::Conflict {
            requested,
            next_available,
            reasons,
        }) => {
            assert_eq!(requested, ts("2027-01-18T15:00:00Z"));
            assert_eq!(next_available, Some(ts("2027-01-18T16:00:00Z")));
            assert_eq!(
                reasons,
                [Reason::Booked {
                    booking_id: BookingId::from_trusted("bk_taken"),
                    start: ts("2027-01-18T15:00:00Z"),
                    end: ts("2027-01-18T16:00:00Z"),
                    buffer: false,
                }]
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn archived_and_unknown_services_are_invalid_without_touching_bookings() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services.expect_get_service_cached().returning(|_, id| {
        Ok((id.as_str() == "srv_consultation").then(|| Service {
            archived: true,
            ..seed_service(false)
        }))
    });
    bookings.expect_insert_booking().never();
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    assert!(matches!(
        uc.create(new_booking("2027-01-18T15:00:00Z")).await,
        Err(BookingError::InvalidService)
    ));
    let mut other = new_booking("2027-01-18T15:00:00Z");
    other.service = "srv_missing".into();
    assert!(matches!(
        uc.create(other).await,
        Err(BookingError::InvalidService)
    ));
}

#[tokio::test]
async fn storage_errors_are_never_not_found() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    let providers = MockProviderStore::new();
    services
        .expect_get_service()
        .returning(|_, _| Err(StorageError::Unavailable("disk gone".into())));
    services
        .expect_get_service_cached()
        .returning(|_, _| Err(StorageError::Unavailable("disk gone".into())));
    bookings
        .expect_get_booking()
        .returning(|_, _| Err(StorageError::Internal("corrupt row".into())));
    let f = Fakes::new();
    let acc = account();
    let catalog = Catalog {
        ports: CatalogPorts {
            providers: &providers,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    };
    assert!(matches!(
        catalog.service("srv_consultation").await,
        Err(CatalogError::Storage(_))
    ));
    assert!(matches!(
        catalog.bookable_service("srv_consultation").await,
        Err(CatalogError::Storage(_))
    ));
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    assert!(matches!(
        uc.create(new_booking("2027-01-18T15:00:00Z")).await,
        Err(BookingError::Storage(_))
    ));
    assert!(matches!(
        uc.get("bk_1").await,
        Err(BookingError::Storage(_))
    ));
    assert!(matches!(
        uc.confirm("bk_1").await,
        Err(BookingError::Storage(_))
    ));
}

#[tokio::test]
async fn whole_minutes_only() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_insert_booking().never();
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let err = uc
        .create(new_booking("2027-01-18T15:00:30Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, BookingError::Validation(ref v) if v.field == "scheduled_at"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_lost_race_is_retried_from_the_fresh_row() {
    let mut bookings = MockBookingStore::new();
    let services = MockServiceStore::new();
    let reads = Arc::new(AtomicUsize::new(0));
    let r = reads.clone();
    bookings.expect_get_booking().returning(move |_, _| {
        r.fetch_add(1, Ordering::SeqCst);
        Ok(Some(booking_at(
            "2027-01-18T15:00:00Z",
            BookingStatus::Pending,
        )))
    });
    let writes = Arc::new(AtomicUsize::new(0));
    let w = writes.clone();
    bookings
        .expect_update_booking()
        .withf(|prev, next, events| {
            prev.status == BookingStatus::Pending
                && next.status == BookingStatus::Confirmed
                && events.len() == 1
                && events[0].kind == EventKind::Confirmed
        })
        .returning(move |_, _, _| {
            if w.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(UpdateBookingError::Stale)
            } else {
                Ok(())
            }
        });
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let confirmed = uc.confirm("bk_1").await.unwrap();
    assert_eq!(confirmed.status, BookingStatus::Confirmed);
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    assert_eq!(writes.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn invalid_transitions_report_the_status() {
    let mut bookings = MockBookingStore::new();
    let services = MockServiceStore::new();
    bookings.expect_get_booking().returning(|_, _| {
        Ok(Some(booking_at(
            "2027-01-18T15:00:00Z",
            BookingStatus::Cancelled,
        )))
    });
    bookings.expect_update_booking().never();
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    for result in [
        uc.confirm("bk_1").await,
        uc.cancel("bk_1", None).await,
        uc.complete("bk_1").await,
    ] {
        match result {
            Err(BookingError::InvalidState(t)) => assert_eq!(t.status, BookingStatus::Cancelled),
            other => panic!("expected INVALID_STATE, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn reschedule_ignores_the_booking_itself_and_records_the_previous_start() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_get_booking().returning(|_, _| {
        Ok(Some(booking_at(
            "2027-01-18T15:00:00Z",
            BookingStatus::Confirmed,
        )))
    });
    bookings
        .expect_busy_sources()
        .withf(|_, _, _, excluding| excluding.as_ref().map(|b| b.as_str()) == Some("bk_1"))
        .returning(|_, _, _, _| Ok(BusySources::default()));
    bookings
        .expect_update_booking()
        .withf(|_, next, events| {
            next.sequence == 1
                && next.scheduled_at == ts("2027-01-18T15:30:00Z")
                && events[0].kind == EventKind::Rescheduled
                && events[0].previous_scheduled_at == Some(ts("2027-01-18T15:00:00Z"))
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let moved = uc
        .reschedule("bk_1", ts("2027-01-18T15:30:00Z"))
        .await
        .unwrap();
    assert_eq!(moved.status, BookingStatus::Confirmed);
}

#[tokio::test]
async fn keys_are_checked_by_hash_and_revocation() {
    let (hash, lookup) = hash_key(&format!("sk_{}", "a".repeat(40)));
    let mut accounts = MockAccountStore::new();
    let record = ApiKeyRecord {
        id: crate::ApiKeyId::from_trusted("key_1"),
        account_id: account(),
        account_name: "acme".into(),
        lookup: lookup.clone(),
        hash,
        revoked_at: None,
        created_at: ts("2027-01-01T00:00:00Z"),
    };
    let revoked = ApiKeyRecord {
        revoked_at: Some(ts("2027-01-02T00:00:00Z")),
        ..record.clone()
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    accounts.expect_keys_by_lookup().returning(move |l| {
        assert_eq!(l.len(), 16);
        Ok(match c.fetch_add(1, Ordering::SeqCst) {
            0 => vec![record.clone()],
            1 => vec![revoked.clone()],
            _ => vec![],
        })
    });
    let f = Fakes::new();
    let keys = ApiKeys {
        store: &accounts,
        clock: &f.clock,
        ids: &f.ids,
    };
    let good = format!("sk_{}", "a".repeat(40));
    assert_eq!(
        keys.authenticate(&good).await.unwrap().account_id,
        account()
    );
    assert!(matches!(
        keys.authenticate(&good).await,
        Err(AuthError::Revoked)
    ));
    assert!(matches!(
        keys.authenticate(&good).await,
        Err(AuthError::Unknown)
    ));
    // Malformed keys never reach the store.
    assert!(matches!(
        keys.authenticate("sk_short").await,
        Err(AuthError::Malformed)
    ));
    assert!(matches!(
        keys.authenticate("Bearer x").await,
        Err(AuthError::Malformed)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn services_without_a_provider_go_to_the_default_one() {
    let mut providers = MockProviderStore::new();
    let mut services = MockServiceStore::new();
    providers.expect_default_provider().returning(|acc| {
        Ok(Some(crate::Provider {
            id: ProviderId::from_trusted("prv_default"),
            account_id: acc.clone(),
            name: "acme".into(),
            email: None,
            is_default: true,
            created_at: ts("2027-01-01T00:00:00Z"),
            updated_at: ts("2027-01-01T00:00:00Z"),
        }))
    });
    services
        .expect_create_service()
        .withf(|s| s.provider_id.as_str() == "prv_default" && s.id.as_str() == "srv_consultation")
        .times(1)
        .returning(|_| Err(CreateServiceError::AlreadyExists));
    let f = Fakes::new();
    let acc = account();
    let catalog = Catalog {
        ports: CatalogPorts {
            providers: &providers,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    };
    let s = seed_service(false);
    let new = crate::NewService {
        id: Some(s.id.clone()),
        provider_id: None,
        team: None,
        name: s.name,
        description: None,
        duration: s.duration,
        price: s.price,
        availability: s.availability,
        buffer_before: s.buffer_before,
        buffer_after: s.buffer_after,
        minimum_notice: s.minimum_notice,
        auto_confirm: false,
        slot_interval: None,
        booking_horizon: None,
        max_bookings_per_day: None,
        cancel_cutoff: Minutes::ZERO,
        reschedule_cutoff: Minutes::ZERO,
        reminders: Vec::new(),
    };
    assert!(matches!(
        catalog.create_service(new).await,
        Err(CatalogError::AlreadyExists)
    ));
}

// ---------------------------------------------------------------- webhooks

#[tokio::test]
async fn webhook_urls_refused_by_the_guard_are_validation_errors() {
    let mut webhooks = MockWebhookStore::new();
    let mut targets = MockWebhookTargets::new();
    targets
        .expect_check()
        .returning(|_| Err("resolves to a private address (loopback)".into()));
    webhooks.expect_create_webhook_within().never();
    let f = Fakes::new();
    let acc = account();
    let err = Webhooks {
        ports: WebhookPorts {
            webhooks: &webhooks,
            targets: &targets,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    }
    .create(
        NewWebhook {
            url: "https://localhost/hook".into(),
            events: None,
            description: None,
        },
        20,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, WebhookError::Validation(v) if v.field == "url" && v.message.contains("loopback")),
        "{err:?}"
    );
}

#[tokio::test]
async fn new_webhooks_get_every_event_and_a_secret() {
    let mut webhooks = MockWebhookStore::new();
    let mut targets = MockWebhookTargets::new();
    targets.expect_check().returning(|_| Ok(()));
    webhooks
        .expect_create_webhook_within()
        .times(1)
        .returning(|_, limit| Ok(limit == 20));
    let f = Fakes::new();
    let acc = account();
    let endpoint = Webhooks {
        ports: WebhookPorts {
            webhooks: &webhooks,
            targets: &targets,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    }
    .create(
        NewWebhook {
            url: "https://example.com/hook".into(),
            events: None,
            description: Some("crm".into()),
        },
        20,
    )
    .await
    .unwrap();
    assert_eq!(endpoint.events, crate::EventSet::defaults());
    assert!(endpoint.enabled && endpoint.secret.starts_with("whsec_"));
    assert!(endpoint.id.as_str().starts_with("wh_"));
}

#[tokio::test]
async fn storage_errors_are_not_turned_into_not_found() {
    let mut webhooks = MockWebhookStore::new();
    let targets = MockWebhookTargets::new();
    webhooks
        .expect_get_webhook()
        .returning(|_, _| Err(StorageError::Unavailable("down".into())));
    let f = Fakes::new();
    let acc = account();
    let err = Webhooks {
        ports: WebhookPorts {
            webhooks: &webhooks,
            targets: &targets,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    }
    .get("wh_1")
    .await
    .unwrap_err();
    assert!(matches!(err, WebhookError::Storage(_)), "{err:?}");
    let err = Webhooks {
        ports: WebhookPorts {
            webhooks: &webhooks,
            targets: &targets,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    }
    .get("bk_1")
    .await
    .unwrap_err();
    assert!(matches!(err, WebhookError::NotFound("webhook")), "{err:?}");
}

#[tokio::test]
async fn automatic_completion_skips_bookings_another_process_changed() {
    let mut bookings = MockBookingStore::new();
    let mut a = booking_at("2027-01-08T15:00:00Z", BookingStatus::Confirmed);
    a.id = BookingId::from_trusted("bk_a");
    let mut b = a.clone();
    b.id = BookingId::from_trusted("bk_b");
    let due = vec![a, b];
    bookings
        .expect_due_for_completion()
        .returning(move |_, _| Ok(due.clone()));
    bookings
        .expect_update_booking()
        .times(2)
        .returning(|prev, updated, events| {
            assert_eq!(updated.status, BookingStatus::Completed);
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].kind, EventKind::Completed);
            assert_eq!(events[0].account_id, prev.account_id);
            if prev.id.as_str() == "bk_a" {
                Ok(())
            } else {
                Err(UpdateBookingError::Stale)
            }
        });
    let f = Fakes::new();
    let ports = CompletionPorts {
        bookings: &bookings,
        clock: &f.clock,
        ids: &f.ids,
    };
    assert_eq!(complete_ended(ports, 100).await.unwrap(), 1);
}

// ---------------------------------------------------------------- time off

fn known_provider(providers: &mut MockProviderStore) {
    providers.expect_get_provider().returning(|acc, id| {
        Ok((id.as_str() == "prv_default").then(|| crate::Provider {
            id: id.clone(),
            account_id: acc.clone(),
            name: "acme".into(),
            email: None,
            is_default: true,
            created_at: ts("2027-01-01T00:00:00Z"),
            updated_at: ts("2027-01-01T00:00:00Z"),
        }))
    });
}

#[tokio::test]
async fn time_off_gets_a_generated_id_and_answers_the_overlapping_bookings() {
    let mut providers = MockProviderStore::new();
    let mut time_off = MockTimeOffStore::new();
    known_provider(&mut providers);
    time_off
        .expect_create_time_off()
        .withf(|t| {
            t.id.as_str().starts_with("off_")
                && t.account_id == account()
                && t.provider_id.as_str() == "prv_default"
                && t.range.start() == ts("2027-02-01T00:00:00Z")
                && t.reason.as_deref() == Some("Away")
                && t.created_at == ts("2027-01-10T12:00:00Z")
        })
        .times(1)
        .returning(|_| Ok(vec![BookingId::from_trusted("bk_1")]));
    let f = Fakes::new();
    let acc = account();
    let uc = TimeOffs {
        ports: TimeOffPorts {
            providers: &providers,
            time_off: &time_off,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    };
    let new = crate::NewTimeOff::new(
        ts("2027-02-01T00:00:00Z"),
        ts("2027-02-04T00:00:00Z"),
        Some("Away"),
    )
    .unwrap();
    let created = uc.create("prv_default", new).await.unwrap();
    assert_eq!(
        created.overlapping_bookings,
        vec![BookingId::from_trusted("bk_1")]
    );
    assert_eq!(created.time_off.reason.as_deref(), Some("Away"));
}

#[tokio::test]
async fn time_off_of_an_unknown_provider_or_with_fractional_seconds_is_not_stored() {
    let mut providers = MockProviderStore::new();
    let mut time_off = MockTimeOffStore::new();
    known_provider(&mut providers);
    time_off.expect_create_time_off().never();
    let f = Fakes::new();
    let acc = account();
    let uc = TimeOffs {
        ports: TimeOffPorts {
            providers: &providers,
            time_off: &time_off,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    };
    let new =
        |start: &str| crate::NewTimeOff::new(ts(start), ts("2027-02-04T00:00:00Z"), None).unwrap();
    for provider in ["prv_other", "bk_1", ""] {
        let err = uc
            .create(provider, new("2027-02-01T00:00:00Z"))
            .await
            .unwrap_err();
        assert!(matches!(err, TimeOffError::NotFound("provider")), "{err:?}");
    }
    let err = uc
        .create("prv_default", new("2027-02-01T00:00:00.5Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TimeOffError::Validation(e) if e.field == "start"),
        "{err:?}"
    );
}

#[tokio::test]
async fn deleting_unknown_time_off_is_not_found_and_storage_errors_stay_errors() {
    let mut providers = MockProviderStore::new();
    let mut time_off = MockTimeOffStore::new();
    known_provider(&mut providers);
    time_off
        .expect_delete_time_off()
        .returning(|_, _, id| match id.as_str() {
            "off_gone" => Ok(false),
            "off_1" => Ok(true),
            _ => Err(StorageError::Unavailable("down".into())),
        });
    time_off
        .expect_list_time_off()
        .returning(|_, _, _, _, _| Err(StorageError::Internal("broken".into())));
    let f = Fakes::new();
    let acc = account();
    let uc = TimeOffs {
        ports: TimeOffPorts {
            providers: &providers,
            time_off: &time_off,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
    };
    uc.delete("prv_default", "off_1").await.unwrap();
    for id in ["off_gone", "bk_1"] {
        let err = uc.delete("prv_default", id).await.unwrap_err();
        assert!(matches!(err, TimeOffError::NotFound("time off")), "{err:?}");
    }
    let err = uc.delete("prv_default", "off_down").await.unwrap_err();
    assert!(matches!(err, TimeOffError::Storage(_)), "{err:?}");
    let err = uc.delete("prv_other", "off_1").await.unwrap_err();
    assert!(matches!(err, TimeOffError::NotFound("provider")), "{err:?}");
    let page = PageRequest {
        limit: 50,
        after: None,
    };
    let err = uc.list("prv_default", None, None, page).await.unwrap_err();
    assert!(matches!(err, TimeOffError::Storage(_)), "{err:?}");
    let (from, to) = (ts("2027-02-02T00:00:00Z"), ts("2027-02-01T00:00:00Z"));
    let err = uc
        .list("prv_default", Some(from), Some(to), page)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TimeOffError::Validation(e) if e.field == "to"),
        "{err:?}"
    );
}

#[test]
fn the_customers_cutoff_allows_up_to_the_deadline_inclusive() {
    use super::manage::cutoff_gate;
    let b = booking_at("2027-01-18T15:00:00Z", BookingStatus::Confirmed);
    let gate = cutoff_gate(Minutes::new(60));
    assert!(gate(&b, ts("2027-01-18T14:00:00Z")).is_ok());
    match gate(&b, ts("2027-01-18T14:00:01Z")) {
        Err(BookingError::CutoffPassed { deadline }) => {
            assert_eq!(deadline, ts("2027-01-18T14:00:00Z"));
        }
        other => panic!("{other:?}"),
    }
    // Cutoff 0: until the start, not after.
    let gate = cutoff_gate(Minutes::ZERO);
    assert!(gate(&b, ts("2027-01-18T15:00:00Z")).is_ok());
    assert!(gate(&b, ts("2027-01-18T15:00:01Z")).is_err());
}

/// A round-robin team of `prv_a`, `prv_b`, `prv_c` on the seed service.
fn team_service(assignment: crate::Assignment) -> Service {
    let mut service = seed_service(false);
    let team: Vec<ProviderId> = ["prv_a", "prv_b", "prv_c"]
        .into_iter()
        .map(ProviderId::from_trusted)
        .collect();
    service.set_providers(crate::ServiceProviders::Team(
        crate::Team::new(team, assignment).unwrap(),
    ));
    service
}

#[tokio::test]
async fn round_robin_tries_the_least_loaded_free_provider_then_the_next_on_a_conflict() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(team_service(crate::Assignment::RoundRobin))));
    // prv_a is busy at the time by the read; prv_b has one booking that day,
    // prv_c none: the order is prv_c, prv_b, then prv_a.
    bookings
        .expect_busy_times()
        .returning(|_, provider, _, _, _| {
            Ok(if provider.as_str() == "prv_a" {
                vec![TimeRange::starting_at(
                    ts("2027-01-18T15:00:00Z"),
                    Minutes::new(60),
                )]
            } else {
                Vec::new()
            })
        });
    bookings.expect_team_loads().returning(|_, _, _| {
        Ok(vec![(
            ProviderId::from_trusted("prv_b"),
            crate::scheduling::ProviderLoad {
                on_day: 1,
                last_booked: None,
            },
        )])
    });
    let tried = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&tried);
    // A concurrent booking took prv_c first: the store refuses it, and
    // prv_b gets the booking.
    bookings
        .expect_insert_booking()
        .times(2)
        .returning(move |b, events| {
            seen.lock().unwrap().push(b.provider_id.as_str().to_owned());
            assert!(
                events
                    .iter()
                    .all(|e| e.booking.provider_id == b.provider_id)
            );
            assert!(b.provider_ids.is_empty());
            if b.provider_id.as_str() == "prv_c" {
                Err(CreateBookingError::Conflict)
            } else {
                Ok(())
            }
        });
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let booking = uc
        .create(new_booking("2027-01-18T15:00:00Z"))
        .await
        .unwrap();
    assert_eq!(booking.provider_id.as_str(), "prv_b");
    assert_eq!(*tried.lock().unwrap(), vec!["prv_c", "prv_b"]);
}

#[tokio::test]
async fn a_collective_booking_is_one_insert_naming_every_provider() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(team_service(crate::Assignment::Collective))));
    bookings
        .expect_insert_booking()
        .withf(|b, _| {
            b.provider_id.as_str() == "prv_a"
                && b.provider_ids
                    .iter()
                    .map(ProviderId::as_str)
                    .collect::<Vec<_>>()
                    == ["prv_a", "prv_b", "prv_c"]
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let booking = uc
        .create(new_booking("2027-01-18T15:00:00Z"))
        .await
        .unwrap();
    assert_eq!(booking.providers().len(), 3);
}

// ---------------------------------------------------------------- holds

fn hold_at(at: &str, made: &str, ttl_secs: i64) -> crate::Hold {
    let service = seed_service(false);
    crate::Hold {
        id: crate::HoldId::from_trusted("hld_1"),
        account_id: account(),
        key_id: crate::ApiKeyId::from_trusted("key_1"),
        service_id: service.id.clone(),
        provider_id: service.provider_id.clone(),
        scheduled_at: ts(at),
        duration: service.duration,
        buffer_before: service.buffer_before,
        buffer_after: service.buffer_after,
        expires_at: ts(made) + jiff::SignedDuration::from_secs(ttl_secs),
        created_at: ts(made),
    }
}

fn key() -> crate::ApiKeyId {
    crate::ApiKeyId::from_trusted("key_1")
}

#[tokio::test]
async fn a_hold_is_stored_with_its_expiry_from_the_clock() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings
        .expect_insert_hold()
        .withf(|h, max| {
            h.expires_at == ts("2027-01-10T12:00:30Z")
                && h.created_at == ts("2027-01-10T12:00:00Z")
                && h.key_id.as_str() == "key_1"
                && *max == crate::MAX_ACTIVE_HOLDS_PER_KEY
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let f = Fakes::new();
    let (acc, key) = (account(), key());
    let uc = Holds {
        ports: HoldPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        key: &key,
    };
    let hold = uc
        .create(NewHold {
            service: "srv_consultation".into(),
            scheduled_at: ts("2027-01-18T15:00:00Z"),
            ttl: jiff::SignedDuration::from_secs(30),
            provider_id: None,
        })
        .await
        .unwrap();
    assert!(hold.id.as_str().starts_with("hld_"));
    assert_eq!(
        hold.occupied(),
        TimeRange::new(ts("2027-01-18T15:00:00Z"), ts("2027-01-18T16:00:00Z")).unwrap()
    );
}

#[tokio::test]
async fn a_hold_for_another_provider_is_a_validation_error() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_insert_hold().never();
    let f = Fakes::new();
    let (acc, key) = (account(), key());
    let uc = Holds {
        ports: HoldPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        key: &key,
    };
    let err = uc
        .create(NewHold {
            service: "srv_consultation".into(),
            scheduled_at: ts("2027-01-18T15:00:00Z"),
            ttl: jiff::SignedDuration::from_secs(300),
            provider_id: Some("prv_other".into()),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, HoldError::Validation(e) if e.field == "provider_id"));
}

#[tokio::test]
async fn too_many_holds_wait_for_the_earliest_expiry() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_insert_hold().returning(|_, _| {
        Err(CreateHoldError::TooMany {
            earliest_expiry: Some(ts("2027-01-10T12:01:40Z")),
        })
    });
    let f = Fakes::new();
    let (acc, key) = (account(), key());
    let uc = Holds {
        ports: HoldPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        key: &key,
    };
    let err = uc
        .create(NewHold {
            service: "srv_consultation".into(),
            scheduled_at: ts("2027-01-18T15:00:00Z"),
            ttl: jiff::SignedDuration::from_secs(300),
            provider_id: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        HoldError::TooMany {
            limit: 100,
            retry_after_secs: 100
        }
    ));
}

/// A hold read at `now` (the mocked clock) made at 12:00:00 with a
/// 30-second lifetime.
async fn hold_seen_at(now: &str) -> Result<crate::Hold, HoldError> {
    let mut bookings = MockBookingStore::new();
    let services = MockServiceStore::new();
    bookings.expect_get_hold().returning(|_, _| {
        Ok(Some(hold_at(
            "2027-01-18T15:00:00Z",
            "2027-01-10T12:00:00Z",
            30,
        )))
    });
    let f = Fakes::at(ts(now));
    let (acc, key) = (account(), key());
    let uc = Holds {
        ports: HoldPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        key: &key,
    };
    uc.get("hld_1").await
}

#[tokio::test]
async fn under_a_fake_clock_a_hold_lasts_until_its_expiry_and_not_a_second_more() {
    assert!(hold_seen_at("2027-01-10T12:00:29Z").await.is_ok());
    assert!(matches!(
        hold_seen_at("2027-01-10T12:00:30Z").await,
        Err(HoldError::NotFound)
    ));
}

#[tokio::test]
async fn booking_with_an_expired_hold_is_hold_expired_without_writing() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_hold_for_booking().returning(|_, _| {
        Ok(Some(hold_at(
            "2027-01-18T15:00:00Z",
            "2027-01-10T12:00:00Z",
            30,
        )))
    });
    bookings.expect_insert_booking_from_hold().never();
    bookings.expect_insert_booking().never();
    let f = Fakes::at(ts("2027-01-10T12:00:31Z"));
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let mut new = new_booking("2027-01-18T15:00:00Z");
    new.hold_id = Some("hld_1".into());
    assert!(matches!(
        uc.create(new).await,
        Err(BookingError::HoldExpired)
    ));
}

#[tokio::test]
async fn booking_with_a_live_hold_converts_it_and_must_match_it() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_hold_for_booking().returning(|_, _| {
        Ok(Some(hold_at(
            "2027-01-18T15:00:00Z",
            "2027-01-10T12:00:00Z",
            30,
        )))
    });
    bookings
        .expect_insert_booking_from_hold()
        .withf(|b, events, hold, cap| {
            hold.as_str() == "hld_1"
                && b.scheduled_at == ts("2027-01-18T15:00:00Z")
                && events.len() == 1
                && cap.is_none()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let f = Fakes::at(ts("2027-01-10T12:00:20Z"));
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let mut other_time = new_booking("2027-01-18T16:00:00Z");
    other_time.hold_id = Some("hld_1".into());
    assert!(matches!(
        uc.create(other_time).await,
        Err(BookingError::Validation(e)) if e.field == "hold_id"
    ));
    let mut new = new_booking("2027-01-18T15:00:00Z");
    new.hold_id = Some("hld_1".into());
    let booking = uc.create(new).await.unwrap();
    assert_eq!(booking.created_at, ts("2027-01-10T12:00:20Z"));
}

#[tokio::test]
async fn a_used_hold_is_hold_expired() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    bookings.expect_hold_for_booking().returning(|_, _| {
        Ok(Some(hold_at(
            "2027-01-18T15:00:00Z",
            "2027-01-10T11:59:00Z",
            300,
        )))
    });
    bookings
        .expect_insert_booking_from_hold()
        .returning(|_, _, _, _| Err(ConvertHoldError::HoldGone));
    let f = Fakes::new();
    let acc = account();
    let uc = Bookings {
        ports: BookingPorts {
            bookings: &bookings,
            services: &services,
            clock: &f.clock,
            ids: &f.ids,
        },
        account: &acc,
        link_key: b"key",
    };
    let mut new = new_booking("2027-01-18T15:00:00Z");
    new.hold_id = Some("hld_1".into());
    assert!(matches!(
        uc.create(new).await,
        Err(BookingError::HoldExpired)
    ));
}

/// A claimed write of `booking` into a calendar of `account`'s seed provider.
fn claimed_write(account: &str, booking: &str) -> ClaimedWrite {
    ClaimedWrite {
        connection: crate::CalendarConnection {
            id: crate::CalendarId::from_trusted("cal_1"),
            account_id: AccountId::from_trusted(account),
            provider_id: seed_service(false).provider_id,
            source: crate::CalendarSource::Ics {
                url: "https://example.com/a.ics".to_owned(),
            },
            status: crate::SyncStatus::Pending,
            last_synced_at: None,
            last_error: None,
            last_error_at: None,
            busy_blocks: 0,
            validators: crate::Validators::default(),
            write: true,
            last_write_error: None,
            created_at: now(),
        },
        booking_id: BookingId::from_trusted(booking),
        version: 1,
        attempts: 0,
        remote: crate::RemoteEvent::default(),
        due_since: now(),
    }
}

/// `read_write_targets` of `claimed` over these stores (no calendar
/// store call expected).
async fn targets_of(
    bookings: &MockBookingStore,
    services: &MockServiceStore,
    claimed: &[ClaimedWrite],
) -> Vec<crate::usecases::WriteTarget> {
    let calendars = MockCalendarStore::new();
    let f = Fakes::new();
    let ports = CalendarWritePorts {
        bookings,
        services,
        calendars: &calendars,
        clock: &f.clock,
    };
    read_write_targets(ports, claimed).await.unwrap()
}

#[tokio::test]
async fn a_claimed_batch_is_read_once_per_account_and_rendered_in_order() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .returning(|_, _| Ok(Some(seed_service(false))));
    let active = booking_at("2027-01-18T15:00:00Z", BookingStatus::Confirmed);
    let mut cancelled = booking_at("2027-01-19T15:00:00Z", BookingStatus::Cancelled);
    cancelled.id = BookingId::from_trusted("bk_2");
    cancelled.account_id = AccountId::from_trusted("acc_other");
    let found = active.clone();
    bookings
        .expect_get_bookings()
        .withf(|account, ids| {
            account.as_str() == "acc_test"
                && ids.iter().map(|id| id.as_str()).collect::<Vec<_>>() == ["bk_1", "bk_gone"]
        })
        .times(1)
        .returning(move |_, _| Ok(vec![found.clone()]));
    let other = cancelled.clone();
    bookings
        .expect_get_bookings()
        .withf(|account, ids| account.as_str() == "acc_other" && ids.len() == 1)
        .times(1)
        .returning(move |_, _| Ok(vec![other.clone()]));
    let claimed = [
        claimed_write("acc_test", "bk_1"),
        claimed_write("acc_other", "bk_2"),
        claimed_write("acc_test", "bk_gone"),
    ];
    let targets = targets_of(&bookings, &services, &claimed).await;
    assert_eq!(targets.len(), 3);
    let event = targets[0].event.as_ref().unwrap();
    assert_eq!(event.range.start(), ts("2027-01-18T15:00:00Z"));
    assert!(event.summary.ends_with("with John Doe"));
    assert!(!event.tentative);
    // Cancelled: no event, but its time (to find one made by a lost answer).
    assert_eq!(targets[1].event, None);
    assert_eq!(
        targets[1].span.map(|s| s.start()),
        Some(ts("2027-01-19T15:00:00Z"))
    );
    // Gone: nothing.
    assert_eq!(
        targets[2],
        WriteTarget {
            event: None,
            span: None
        }
    );
}

#[tokio::test]
async fn a_claimed_batch_reads_each_service_once() {
    let mut bookings = MockBookingStore::new();
    let mut services = MockServiceStore::new();
    services
        .expect_get_service_cached()
        .times(1)
        .returning(|_, _| Ok(Some(seed_service(false))));
    let first = booking_at("2027-01-18T15:00:00Z", BookingStatus::Confirmed);
    let mut second = booking_at("2027-01-19T15:00:00Z", BookingStatus::Pending);
    second.id = BookingId::from_trusted("bk_2");
    let found = vec![first, second];
    bookings
        .expect_get_bookings()
        .times(1)
        .returning(move |_, _| Ok(found.clone()));
    let claimed = [
        claimed_write("acc_test", "bk_1"),
        claimed_write("acc_test", "bk_2"),
    ];
    let targets = targets_of(&bookings, &services, &claimed).await;
    let name = seed_service(false).name;
    for target in &targets {
        let event = target.event.as_ref().unwrap();
        assert!(event.summary.starts_with(&name), "{}", event.summary);
    }
    assert!(targets[1].event.as_ref().unwrap().tentative);
}
