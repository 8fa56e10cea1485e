//! What every connection task shares, whatever role its peer takes: the byte stream it runs
//! over, its context, handing commands to the actor, and closing a socket gracefully.

use std::net::IpAddr;

use proto::codec::Quadros;
use proto::{DoBroker, ParaBroker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::actor::Comando;
use crate::config::Config;

/// Most bytes read and thrown away while closing, before giving up on a graceful close.
const DESCARTE_MAXIMO: usize = 1 << 20;

/// A connection's typed frames, as the broker reads and writes them.
pub type QuadrosBroker<S> = Quadros<S, ParaBroker, DoBroker>;

/// Any byte stream a connection runs over: plain TCP, or TLS over TCP.
pub trait Fluxo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Fluxo for T {}

/// What a connection task needs besides its socket.
#[derive(Clone)]
pub struct Contexto {
    /// The broker's settings.
    pub config: Config,
    /// The actor's inbox.
    pub ator: mpsc::Sender<Comando>,
    /// Cancelled when the broker starts shutting down (stops waiting for handshakes).
    pub desligar: CancellationToken,
    /// Cancelled when the shutdown deadline passes (cuts every connection).
    pub forcar: CancellationToken,
    /// Where failed agent logins are reported, for throttling by address.
    pub falhas: mpsc::Sender<IpAddr>,
}

/// Hands a command to the actor, waiting for room in its inbox; `false` when the actor is gone.
/// Only when the inbox is full is the wait's state (a semaphore waiter, a few hundred bytes)
/// allocated, so that it does not take room in every connection's task for its whole life.
pub async fn avisar_ator(contexto: &Contexto, comando: Comando) -> bool {
    let vaga = match contexto.ator.try_reserve() {
        Ok(vaga) => vaga,
        Err(TrySendError::Closed(())) => return false,
        Err(TrySendError::Full(())) => match Box::pin(contexto.ator.reserve()).await {
            Ok(vaga) => vaga,
            Err(_) => return false,
        },
    };
    vaga.send(comando);
    true
}

/// Closes a socket gracefully: shuts down our side, then reads and discards what the peer still
/// sends for a while, so that unread input does not turn the close into a reset that would
/// destroy our last frames before the peer reads them.
pub async fn fechar<S: Fluxo>(mut socket: S, prazo: Duration) {
    if socket.shutdown().await.is_err() {
        return;
    }
    let descartar = async {
        // On the heap, and only while closing: an array here would sit in every connection's
        // task for its whole life.
        let mut lixo = vec![0u8; 4096];
        let mut total = 0;
        while total < DESCARTE_MAXIMO {
            match socket.read(&mut lixo).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(prazo, descartar).await;
}
