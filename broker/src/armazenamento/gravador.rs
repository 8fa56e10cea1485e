//! The actor's side of the store: it hands each event's records, and the lookups of earlier
//! conversations the event asks for, to a writer as one numbered [`Lote`], and hears back
//! ([`Gravado`]) up to which lot everything is stored, with the lookups' answers.
//!
//! The writer composes one transaction from whatever lots are queued (group commit), so the cost
//! of a commit is shared by every event that waited for it. Nothing is dropped and the actor
//! never waits on the disk: when the writer is a whole queue behind, [`Gravador::gravar`] gives
//! the lot back and the actor keeps it, in order, until there is room ([`Gravador::vaga`]).
//! Lookups are answered right after their lot is committed, on the writer's own connection, so
//! the answer is there by the time the lot's frames go out: every chat gets its `Anteriores`.

use proto::{Anterior, SessaoId};
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::matchmaking::Registro;

/// Lots that may wait for the writer before the actor keeps them itself.
pub const CAPACIDADE_GRAVADOR: usize = 65_536;

/// Most records written in one transaction.
pub(super) const REGISTROS_POR_TRANSACAO: usize = 4096;

/// One event's work for the store.
#[derive(Debug)]
pub struct Lote {
    /// Its number; the writer reports the highest it has stored.
    pub numero: u64,
    /// The records, stored in one transaction with the lots queued beside it.
    pub registros: Vec<Registro>,
    /// Earlier conversations to look up once the records are stored.
    pub consultas: Vec<Consulta>,
}

/// A lookup of a customer's earlier conversations, for an agent whose chat just started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consulta {
    /// The agent.
    pub para: SessaoId,
    /// The customer's name.
    pub cliente: String,
    /// The chat that just started (its id bounds the answer: only conversations before it).
    pub conversa: u64,
}

/// The answer to a [`Consulta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resposta {
    /// The agent.
    pub para: SessaoId,
    /// The chat it is about.
    pub conversa: u64,
    /// The customer's earlier conversations, newest first.
    pub conversas: Vec<Anterior>,
}

/// What the writer reports after each transaction.
#[derive(Debug, Default)]
pub struct Gravado {
    /// Every lot up to this one is stored (or was given up on after a database error, which
    /// the writer logs).
    pub ate: u64,
    /// The answers to those lots' lookups (a lookup that failed has none).
    pub respostas: Vec<Resposta>,
}

/// Room for one lot in the writer's queue ([`Gravador::vaga`]).
#[derive(Debug)]
pub struct Vaga(mpsc::OwnedPermit<Lote>);

impl Vaga {
    /// Delivers `lote` into the room.
    pub fn entregar(self, lote: Lote) {
        self.0.send(lote);
    }
}

/// The actor's handle on the writer; the writer ends, after storing everything queued, once
/// every `Gravador` is dropped.
#[derive(Debug, Clone)]
pub struct Gravador {
    pub(super) lotes: mpsc::Sender<Lote>,
}

impl Gravador {
    /// Queues a lot; gives it back when the writer is a whole queue behind (then it must be
    /// delivered, with [`Gravador::esperar`] or into a [`Vaga`], before any later lot).
    pub fn gravar(&self, lote: Lote) -> Result<(), Lote> {
        match self.lotes.try_send(lote) {
            Ok(()) | Err(TrySendError::Closed(_)) => Ok(()),
            Err(TrySendError::Full(lote)) => Err(lote),
        }
    }

    /// Waits for room in the writer's queue and delivers `lote`.
    pub async fn esperar(&self, lote: Lote) {
        let _ = self.lotes.send(lote).await;
    }

    /// Waits for room in the writer's queue, for a lot to be delivered later without waiting;
    /// `None` once the writer is gone.
    pub async fn vaga(self) -> Option<Vaga> {
        self.lotes.reserve_owned().await.ok().map(Vaga)
    }
}

/// Takes the next lots from `lotes` for one transaction: waits for the first, then adds every
/// lot already queued, up to [`REGISTROS_POR_TRANSACAO`] records. `None` once the actor is gone
/// and the queue is empty.
pub(super) fn juntar(
    primeiro: Option<Lote>,
    lotes: &mut mpsc::Receiver<Lote>,
) -> Option<Vec<Lote>> {
    let primeiro = primeiro?;
    let mut registros = primeiro.registros.len();
    let mut juntos = vec![primeiro];
    while registros < REGISTROS_POR_TRANSACAO {
        match lotes.try_recv() {
            Ok(lote) => {
                registros += lote.registros.len();
                juntos.push(lote);
            }
            Err(_) => break,
        }
    }
    Some(juntos)
}
