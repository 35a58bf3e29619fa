//! The store contract suite (`contract`), run against every store we ship.

mod contract;
mod fixtures;
mod postgres;
mod ratelimit;
mod sqlite;
