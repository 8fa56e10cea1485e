//! The help-desk queue broker as a library, so the binary, the tests and the load tool all run
//! the same server.
//!
//! From the outside in: [`server`] accepts connections and owns shutdown; each connection runs in
//! [`connection`]; every session's state lives in one [`actor`] task that owns the pure
//! [`matchmaking`] state machine. [`config`] holds every limit and interval;
//! [`arquivos`] makes room for them in the open-file limit. [`armazenamento`] keeps every
//! conversation in a database, and the live sessions too, so a broker killed without warning
//! restarts with them; [`relatorio`] prints the history back and [`servico`] its service-level
//! report. [`indicadores`] counts what happens for Prometheus and the supervisor's panel, which
//! [`supervisao`] serves to supervisors; [`canal`] holds what every connection task shares;
//! [`web`] serves the customer's chat page and the protocol over WebSocket. [`cluster`] runs a
//! broker as one member of a cluster on PostgreSQL: standing by, or active under a [`mandato`].

pub mod actor;
pub mod armazenamento;
pub mod arquivos;
pub mod canal;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod credenciais;
pub mod indicadores;
pub mod mandato;
pub mod matchmaking;
pub mod relatorio;
pub mod server;
pub mod servico;
pub mod supervisao;
pub mod web;

pub use config::Config;
pub use server::{Broker, Ouvinte};
