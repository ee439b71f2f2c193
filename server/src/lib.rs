//! timebank-server: the relay (`timebank-relay`). It enrolls devices with one-time codes,
//! authenticates them by token, merges what every phone brings through the sync endpoint
//! while enforcing who may write which document, and keeps everything in its store.
//!
//! Layers: [`store`] (the only module that touches SQLite or PostgreSQL, behind the
//! [`RelayStore`] trait) → [`relay`] (shared state and the document cache) → [`authority`] (who may read
//! and write what) and [`vetting`] (the shape every change keeps) → [`enroll`], [`auth`],
//! [`sync`], [`contacts`] (the endpoints) → [`app`] (the router).
//! [`live`] holds the devices' and the console's live channels of hints (ADR 32).
//! [`registry`] registers stations, members, devices and console accounts; the [`admin`]
//! command line and the [`console`] both call it.
//! The model, the documents and the wire format are the engine's (`timebank-engine`).
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let relay = Arc::new(timebank_server::Relay::open(std::path::Path::new("data"))?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, timebank_server::app(relay)).await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod app;
pub mod auth;
pub mod authority;
pub mod config;
pub mod console;
pub mod contacts;
pub mod desk;
pub mod enroll;
pub mod error;
pub mod footprint;
pub mod http;
pub mod ledger;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod monitor;
pub mod password;
pub mod presence;
pub mod registry;
pub mod relay;
pub mod secret;
pub mod store;
pub mod sync;
pub mod vetting;
pub mod voucher;
pub mod write;

pub use app::{app, app_with, app_with_limits};
pub use error::AppError;
pub use relay::Relay;
pub use store::{PgSettings, PgStore, RelayStore, SqliteStore, StoreError, StoreLocation};
