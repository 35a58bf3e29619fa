//! Secrets at rest in the store (run by `sqlite.rs` and `postgres.rs`, each
//! with its own raw connection): a sealed value moved to another row does
//! not open, and that is a storage error, never a secret or "not found".

use booking_domain::ports::{PageRequest, StorageError};
use booking_domain::{AccountId, EventSet, WebhookEndpoint};

use super::fixtures::tenant;
use super::webhooks::{WebhookTestStore, stored_endpoint};

/// Two stored endpoints of one account.
pub async fn two_endpoints<S: WebhookTestStore>(
    s: &S,
) -> (AccountId, WebhookEndpoint, WebhookEndpoint) {
    let t = tenant(s, "acme").await;
    let a = stored_endpoint(s, &t.account, EventSet::all(), true).await;
    let b = stored_endpoint(s, &t.account, EventSet::all(), true).await;
    (t.account, a, b)
}

/// The SQL (the same on both stores) that copies `from`'s sealed secret
/// onto `to`'s row, as someone with write access to the database could.
pub fn copy_secret_sql(from: &WebhookEndpoint, to: &WebhookEndpoint) -> String {
    format!(
        "UPDATE webhook_endpoints SET secret = \
         (SELECT secret FROM webhook_endpoints WHERE id = '{}') WHERE id = '{}'",
        from.id.as_str(),
        to.id.as_str()
    )
}

/// After [`copy_secret_sql`] `from` → `to`: reading `to` fails with an
/// internal storage error naming the column, and `from` still reads.
pub async fn a_copied_secret_is_a_storage_error<S: WebhookTestStore>(
    s: &S,
    account: &AccountId,
    from: &WebhookEndpoint,
    to: &WebhookEndpoint,
) {
    let internal = |e: StorageError| match e {
        StorageError::Internal(message) => message,
        other => panic!("expected Internal, got {other:?}"),
    };
    let e = internal(s.get_webhook(account, &to.id).await.unwrap_err());
    assert!(e.contains("webhook_endpoints.secret"), "{e}");
    assert!(!e.contains(&from.secret), "{e}");
    let page = PageRequest {
        limit: 10,
        after: None,
    };
    internal(s.list_webhooks(account, page).await.unwrap_err());
    assert_eq!(
        s.get_webhook(account, &from.id).await.unwrap().as_ref(),
        Some(from)
    );
}

/// What a store opened with a key that did not seal its secrets says.
pub fn assert_wrong_key(result: Result<(), StorageError>) {
    match result {
        Err(StorageError::Internal(message)) => assert!(
            message.contains("BOOKING_SECRET_KEY does not match the key that encrypted"),
            "{message}"
        ),
        other => panic!("expected the wrong-key error, got {other:?}"),
    }
}

/// A key that sealed nothing in any test database.
pub fn another_keyring() -> booking_store::secrets::Keyring {
    booking_store::secrets::Keyring::new(booking_store::secrets::SecretKey::from_bytes([42; 32]))
}
