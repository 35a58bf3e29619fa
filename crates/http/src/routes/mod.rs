//! Routes: every resource of the contract, each answering 405 with `Allow`
//! for methods it does not have.
//!
//! [`ROUTES`] is the one list of what the server mounts: [`configure`] builds
//! the actix resources from it (in its order: `/v1/bookings/{id}.ics` must
//! come before `/v1/bookings/{id}`), and the OpenAPI tests check the
//! document against it, so a route cannot be added without its description.

pub mod bookings;
pub mod calendar;
pub mod calendars;
pub mod holds;
pub mod limited;
pub mod manage;
pub mod manage_page;
pub mod ops;
pub mod providers;
pub mod services;
pub mod time_off;
pub mod webhooks;

use actix_web::http::Method;
use actix_web::{HttpResponse, Route, web};

use crate::error::ApiError;

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// `GET`
    Get,
    /// `HEAD` (the same handler as `GET`, without a body)
    Head,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Verb {
    /// The method's name, as in `Allow` (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Head => "HEAD",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    /// The actix method.
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Head => Method::HEAD,
            Verb::Post => Method::POST,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }
}

/// Makes the route to a handler (`|| web::route().to(handler)`); the
/// method guard is added from the [`Verb`] beside it.
pub type MakeRoute = fn() -> Route;

/// One mounted resource: its path template (actix syntax, which for these
/// paths is also OpenAPI's) and the handler of each method it answers.
pub struct Resource {
    /// `/v1/services/{id}`
    pub path: &'static str,
    /// Each method with a route to its handler.
    pub methods: &'static [(Verb, MakeRoute)],
}

impl Resource {
    /// The `Allow` value for this resource (`GET, POST`).
    pub fn allow(&self) -> String {
        self.mounted()
            .map(|(verb, _)| verb.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Each method mounted with its route: the listed ones, and `HEAD`
    /// beside every `GET` that lists none of its own (RFC 9110: a server
    /// supports HEAD wherever it supports GET; actix sends a HEAD answer's
    /// headers without its body).
    fn mounted(&self) -> impl Iterator<Item = (Verb, MakeRoute)> + '_ {
        let listed = self.methods.iter().copied();
        let has_head = self.methods.iter().any(|(verb, _)| *verb == Verb::Head);
        let head = self
            .methods
            .iter()
            .filter(move |(verb, _)| *verb == Verb::Get && !has_head)
            .map(|(_, route)| (Verb::Head, *route));
        listed.chain(head)
    }
}

/// Every route the server mounts, in mounting order.
pub const ROUTES: &[Resource] = &[
    Resource {
        path: "/healthz",
        methods: &[(Verb::Get, || web::route().to(ops::healthz))],
    },
    Resource {
        path: "/readyz",
        methods: &[(Verb::Get, || web::route().to(ops::readyz))],
    },
    Resource {
        path: "/metrics",
        methods: &[(Verb::Get, || web::route().to(ops::metrics))],
    },
    Resource {
        path: "/v1/providers",
        methods: &[
            (Verb::Get, || web::route().to(providers::list)),
            (Verb::Post, || web::route().to(providers::create)),
        ],
    },
    Resource {
        path: "/v1/providers/{id}",
        methods: &[
            (Verb::Get, || web::route().to(providers::get)),
            (Verb::Patch, || web::route().to(providers::update)),
        ],
    },
    Resource {
        path: "/v1/services",
        methods: &[
            (Verb::Get, || web::route().to(services::list)),
            (Verb::Post, || web::route().to(services::create)),
        ],
    },
    Resource {
        path: "/v1/services/{id}",
        methods: &[
            (Verb::Get, || web::route().to(services::get)),
            (Verb::Patch, || web::route().to(services::update)),
            (Verb::Delete, || web::route().to(services::archive)),
        ],
    },
    Resource {
        path: "/v1/services/{id}/availability",
        methods: &[(Verb::Get, || web::route().to(services::availability))],
    },
    Resource {
        path: "/v1/services/{id}/availability/explain",
        methods: &[(Verb::Get, || web::route().to(services::explain))],
    },
    Resource {
        path: "/v1/bookings",
        methods: &[
            (Verb::Get, || web::route().to(bookings::list)),
            (Verb::Post, || web::route().to(bookings::create)),
        ],
    },
    Resource {
        path: "/v1/bookings/{id}.ics",
        methods: &[
            (Verb::Get, || web::route().to(calendar::booking)),
            (Verb::Head, || web::route().to(calendar::booking)),
        ],
    },
    Resource {
        path: "/calendar/feed/{token}.ics",
        methods: &[
            (Verb::Get, || web::route().to(calendar::feed)),
            (Verb::Head, || web::route().to(calendar::feed)),
        ],
    },
    Resource {
        path: "/v1/providers/{id}/calendars",
        methods: &[
            (Verb::Get, || web::route().to(calendars::list)),
            (Verb::Post, || web::route().to(calendars::create)),
        ],
    },
    Resource {
        path: "/v1/providers/{id}/calendars/{cal_id}",
        methods: &[(Verb::Delete, || web::route().to(calendars::delete))],
    },
    Resource {
        path: "/v1/providers/{id}/time-off",
        methods: &[
            (Verb::Get, || web::route().to(time_off::list)),
            (Verb::Post, || web::route().to(time_off::create)),
        ],
    },
    Resource {
        path: "/v1/providers/{id}/time-off/{off_id}",
        methods: &[(Verb::Delete, || web::route().to(time_off::delete))],
    },
    Resource {
        path: "/v1/holds",
        methods: &[(Verb::Post, || web::route().to(holds::create))],
    },
    Resource {
        path: "/v1/holds/{id}",
        methods: &[
            (Verb::Get, || web::route().to(holds::get)),
            (Verb::Delete, || web::route().to(holds::delete)),
        ],
    },
    Resource {
        path: "/v1/calendar/sync",
        methods: &[(Verb::Post, || web::route().to(calendars::sync))],
    },
    Resource {
        path: "/v1/providers/{id}/feed",
        methods: &[(Verb::Get, || web::route().to(calendar::get_feed))],
    },
    Resource {
        path: "/v1/providers/{id}/feed/rotate",
        methods: &[(Verb::Post, || web::route().to(calendar::rotate_feed))],
    },
    Resource {
        path: "/v1/bookings/{id}",
        methods: &[(Verb::Get, || web::route().to(bookings::get))],
    },
    Resource {
        path: "/v1/manage/{token}",
        methods: &[(Verb::Get, || web::route().to(manage::get))],
    },
    Resource {
        path: "/v1/manage/{token}/availability",
        methods: &[(Verb::Get, || web::route().to(manage::availability))],
    },
    Resource {
        path: "/v1/manage/{token}/cancel",
        methods: &[(Verb::Post, || web::route().to(manage::cancel))],
    },
    Resource {
        path: "/v1/manage/{token}/reschedule",
        methods: &[(Verb::Post, || web::route().to(manage::reschedule))],
    },
    // The style sheet before the page, whose `{token}` would match it.
    Resource {
        path: "/manage/assets/page.css",
        methods: &[(Verb::Get, || web::route().to(manage_page::style))],
    },
    Resource {
        path: "/manage/{token}",
        methods: &[(Verb::Get, || web::route().to(manage_page::page))],
    },
    Resource {
        path: "/manage/{token}/cancel",
        methods: &[(Verb::Post, || web::route().to(manage_page::cancel))],
    },
    Resource {
        path: "/manage/{token}/reschedule",
        methods: &[(Verb::Post, || web::route().to(manage_page::reschedule))],
    },
    Resource {
        path: "/manage/{token}/cancelled",
        methods: &[(Verb::Get, || web::route().to(manage_page::cancelled))],
    },
    Resource {
        path: "/v1/webhooks",
        methods: &[
            (Verb::Get, || web::route().to(webhooks::list)),
            (Verb::Post, || web::route().to(webhooks::create)),
        ],
    },
    Resource {
        path: "/v1/webhooks/{id}",
        methods: &[
            (Verb::Get, || web::route().to(webhooks::get)),
            (Verb::Patch, || web::route().to(webhooks::update)),
            (Verb::Delete, || web::route().to(webhooks::delete)),
        ],
    },
    Resource {
        path: "/v1/webhooks/{id}/rotate-secret",
        methods: &[(Verb::Post, || web::route().to(webhooks::rotate_secret))],
    },
    Resource {
        path: "/v1/webhooks/{id}/deliveries",
        methods: &[(Verb::Get, || web::route().to(webhooks::deliveries))],
    },
    Resource {
        path: "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        methods: &[(Verb::Post, || web::route().to(webhooks::redeliver))],
    },
    Resource {
        path: "/v1/bookings/{id}/confirm",
        methods: &[(Verb::Post, || web::route().to(bookings::confirm))],
    },
    Resource {
        path: "/v1/bookings/{id}/cancel",
        methods: &[(Verb::Post, || web::route().to(bookings::cancel))],
    },
    Resource {
        path: "/v1/bookings/{id}/reschedule",
        methods: &[(Verb::Post, || web::route().to(bookings::reschedule))],
    },
    Resource {
        path: "/v1/bookings/{id}/complete",
        methods: &[(Verb::Post, || web::route().to(bookings::complete))],
    },
];

fn not_allowed(allow: String) -> Route {
    web::route().to(move || {
        let e = ApiError::method_not_allowed(&allow);
        async move { Err::<HttpResponse, _>(e) }
    })
}

/// Unknown routes.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("Route"))
}

/// Mounts the API routes: [`ROUTES`], each resource answering 405 with
/// `Allow` for the methods it does not have.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for resource in ROUTES {
        let mut mounted = web::resource(resource.path);
        for (verb, route) in resource.mounted() {
            mounted = mounted.route(route().method(verb.method()));
        }
        cfg.service(mounted.default_service(not_allowed(resource.allow())));
    }
}
