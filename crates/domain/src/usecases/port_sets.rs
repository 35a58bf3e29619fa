//! The ports each use case takes: one small struct of references per use
//! case, naming exactly the ports it uses, with the same field names as
//! [`Ports`] (so a body reads `self.ports.bookings.…` either way).
//!
//! A use case cannot reach a port its struct does not name: the compiler
//! refuses it. Its signature tells a reader what it depends on, and a unit
//! test builds only those mocks. The HTTP routes and the background workers
//! hold one [`Ports`] and pass `(&ports).into()`.
//!
//! Where one use case calls another (holds and the customer page book
//! through [`super::Bookings`]; bookings, holds and the customer page read
//! busy time through the availability helpers), the caller's struct
//! converts into the callee's with `From`, field by field, so the caller
//! must name every port the callee uses.

use crate::BusySource;
use crate::ports::{
    BookingStore, CalendarStore, Clock, FeedStore, IdGenerator, Ports, ProviderStore, ServiceStore,
    TimeOffStore, WebhookStore, WebhookTargets,
};

/// Declares a use case's ports: a `Copy` struct of `&dyn` port references
/// and its `From<&Ports>`.
macro_rules! port_set {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($field:ident: $port:ty),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub struct $name<'a> {
            $(
                #[doc = concat!("[`Ports::", stringify!($field), "`].")]
                pub $field: &'a $port,
            )+
        }

        impl<'a> From<&'a Ports> for $name<'a> {
            fn from(ports: &'a Ports) -> Self {
                $name {
                    $($field: &*ports.$field,)+
                }
            }
        }
    };
}

/// `From<$source> for $target`, copying `$target`'s fields (the compiler
/// checks that the list is `$target`'s whole field list and that `$source`
/// has each).
macro_rules! narrows_to {
    ($target:ident { $($field:ident),+ } from $source:ident $(, $rest:ident)*) => {
        impl<'a> From<$source<'a>> for $target<'a> {
            fn from(p: $source<'a>) -> Self {
                $target {
                    $($field: p.$field,)+
                }
            }
        }
        narrows_to!($target { $($field),+ } from $($rest),*);
    };
    ($target:ident { $($field:ident),+ } from) => {};
}

port_set! {
    /// The busy-time reads that availability, booking, holds and the
    /// customer page share (`provider_busy`, `team_busy`, the day counts
    /// and the explain inputs).
    pub struct BusyPorts {
        bookings: dyn BookingStore,
        clock: dyn Clock,
    }
}

port_set! {
    /// [`super::Availability`]: free slots and explanations.
    pub struct AvailabilityPorts {
        bookings: dyn BookingStore,
        clock: dyn Clock,
    }
}

port_set! {
    /// [`super::Bookings`]: creating bookings and their lifecycle.
    pub struct BookingPorts {
        bookings: dyn BookingStore,
        services: dyn ServiceStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::Holds`]: holds, which read services and explain conflicts
    /// through [`super::Bookings`].
    pub struct HoldPorts {
        bookings: dyn BookingStore,
        services: dyn ServiceStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::Manage`]: the customer page, which cancels and moves
    /// through [`super::Bookings`].
    pub struct ManagePorts {
        bookings: dyn BookingStore,
        services: dyn ServiceStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::complete_ended`]: automatic completion.
    pub struct CompletionPorts {
        bookings: dyn BookingStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::send_due_reminders`].
    pub struct ReminderPorts {
        bookings: dyn BookingStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::Catalog`]: providers and services.
    pub struct CatalogPorts {
        providers: dyn ProviderStore,
        services: dyn ServiceStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::Calendars`]: connecting outside calendars.
    pub struct CalendarPorts {
        providers: dyn ProviderStore,
        calendars: dyn CalendarStore,
        targets: dyn WebhookTargets,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// The calendar sync worker: [`super::claim_due_fairly`] and
    /// [`super::sync_connection`].
    pub struct SyncPorts {
        calendars: dyn CalendarStore,
        busy_source: dyn BusySource,
        clock: dyn Clock,
    }
}

port_set! {
    /// The calendar write worker's store side: [`super::claim_calendar_writes`],
    /// [`super::read_write_targets`] and [`super::record_calendar_writes`]
    /// ([`super::send_write`] takes the calendar writer and the clock alone).
    pub struct CalendarWritePorts {
        bookings: dyn BookingStore,
        services: dyn ServiceStore,
        calendars: dyn CalendarStore,
        clock: dyn Clock,
    }
}

port_set! {
    /// [`super::Feeds`]: providers' calendar feeds.
    pub struct FeedPorts {
        providers: dyn ProviderStore,
        feeds: dyn FeedStore,
    }
}

port_set! {
    /// [`super::TimeOffs`]: providers' time off.
    pub struct TimeOffPorts {
        providers: dyn ProviderStore,
        time_off: dyn TimeOffStore,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

port_set! {
    /// [`super::Webhooks`]: webhook endpoints.
    pub struct WebhookPorts {
        webhooks: dyn WebhookStore,
        targets: dyn WebhookTargets,
        clock: dyn Clock,
        ids: dyn IdGenerator,
    }
}

narrows_to!(BusyPorts { bookings, clock } from AvailabilityPorts, BookingPorts, HoldPorts, ManagePorts);
narrows_to!(BookingPorts { bookings, services, clock, ids } from HoldPorts, ManagePorts);
