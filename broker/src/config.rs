//! Every limit, deadline and interval of the broker, with the defaults a help desk starts from.
//!
//! The binary fills a [`Config`] from its command line; tests build one with shorter intervals.

use std::net::SocketAddr;
use std::time::Duration;

use proto::{ENDERECO_PADRAO, TAMANHO_MAXIMO_QUADRO};

/// The broker's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to accept connections on.
    pub escutar: SocketAddr,
    /// Largest frame body accepted or sent, in bytes.
    pub tamanho_maximo_quadro: usize,
    /// How long a new connection has to send its handshake.
    pub prazo_apresentacao: Duration,
    /// How often changed positions are sent to waiting customers (rule 5's tick).
    pub intervalo_fila: Duration,
    /// Frames that may wait to be written to one peer; a peer that lets more pile up is a slow
    /// consumer and is disconnected.
    pub capacidade_saida: usize,
    /// Commands that may wait for the actor before connections wait to hand in more.
    pub capacidade_comandos: usize,
    /// On shutdown, how long connections get to flush their last frames before they are cut.
    pub prazo_encerramento: Duration,
    /// When closing a connection, how long to keep reading (and discarding) what the peer still
    /// sends, so the peer reads our last frames instead of a reset.
    pub prazo_fechamento: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            escutar: ENDERECO_PADRAO
                .parse()
                .expect("the default address is a valid socket address"),
            tamanho_maximo_quadro: TAMANHO_MAXIMO_QUADRO,
            prazo_apresentacao: Duration::from_secs(10),
            intervalo_fila: Duration::from_millis(100),
            capacidade_saida: 1024,
            capacidade_comandos: 8192,
            prazo_encerramento: Duration::from_secs(5),
            prazo_fechamento: Duration::from_secs(2),
        }
    }
}
