//! The actor's side of the store: it hands each event's records, and the lookups of earlier
//! conversations the event asks for, to a writer as one numbered [`Lote`], and hears back
//! ([`Gravado`]) up to which lot everything is stored, with the lookups' answers.
//!
//! Every transaction is composed from whatever lots are waiting (group commit), so the cost of
//! a commit is shared by every event that waited for it. With SQLite the actor commits itself
//! ([`Gravador::descarregar`], between batches of commands): a commit writes only to the
//! operating system's cache, quicker than handing the lots to another thread and hearing back.
//! With PostgreSQL a task writes, over the network: when it is a whole queue behind,
//! [`Gravador::gravar`] gives the lot back and the actor keeps it, in order, until there is room
//! ([`Gravador::fila`]); the actor never waits on the database.
//! Lookups are answered right after their lot is committed, on the writer's own connection, so
//! the answer is there by the time the lot's frames go out: every chat gets its `Anteriores`.

use proto::{Anterior, SessaoId};
use tokio::sync::mpsc::{self, error::TrySendError};

use super::escrita_sqlite::EscritorSqlite;
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

impl Resposta {
    /// The answer to `consulta` from what the database said (`None`, logged, when it failed).
    pub(super) fn a(
        consulta: &Consulta,
        resultado: Result<Vec<Anterior>, impl std::fmt::Display>,
    ) -> Option<Resposta> {
        match resultado {
            Ok(conversas) => Some(Resposta {
                para: consulta.para,
                conversa: consulta.conversa,
                conversas,
            }),
            Err(erro) => {
                tracing::error!(%erro, "não foi possível consultar o histórico");
                None
            }
        }
    }
}

/// What the writer reports after each transaction.
#[derive(Debug, Default)]
pub struct Gravado {
    /// Every lot up to this one is stored (or, for a broker on its own, was given up on after
    /// a database error, which the writer logs; a cluster's active reports nothing after one,
    /// and steps down).
    pub ate: u64,
    /// The answers to those lots' lookups (a lookup that failed has none).
    pub respostas: Vec<Resposta>,
}

/// Room for one lot in the writer's queue (from [`Gravador::fila`]).
#[derive(Debug)]
pub struct Vaga(mpsc::OwnedPermit<Lote>);

impl Vaga {
    /// Waits for room in `fila`; `None` once the writer is gone.
    pub async fn em(fila: mpsc::Sender<Lote>) -> Option<Vaga> {
        fila.reserve_owned().await.ok().map(Vaga)
    }

    /// Delivers `lote` into the room.
    pub fn entregar(self, lote: Lote) {
        self.0.send(lote);
    }
}

/// The actor's handle on the writer.
#[derive(Debug)]
pub struct Gravador {
    destino: Destino,
}

/// Where lots go.
#[derive(Debug)]
enum Destino {
    /// SQLite: kept here until the actor commits them itself.
    Aqui {
        escritor: Box<EscritorSqlite>,
        pendentes: Vec<Lote>,
    },
    /// PostgreSQL: the queue of the writer's task, which ends, after storing everything
    /// queued, once the sender is dropped.
    Tarefa(mpsc::Sender<Lote>),
}

impl Gravador {
    /// The actor commits through `escritor` itself.
    pub(super) fn aqui(escritor: EscritorSqlite) -> Gravador {
        Gravador {
            destino: Destino::Aqui {
                escritor: Box::new(escritor),
                pendentes: Vec::new(),
            },
        }
    }

    /// Lots go to a writer task's queue.
    pub(super) fn tarefa(lotes: mpsc::Sender<Lote>) -> Gravador {
        Gravador {
            destino: Destino::Tarefa(lotes),
        }
    }

    /// Queues a lot; gives it back when a writer task is a whole queue behind (then it must be
    /// delivered, with [`Gravador::esperar`] or into a [`Vaga`], before any later lot).
    pub fn gravar(&mut self, lote: Lote) -> Result<(), Lote> {
        match &mut self.destino {
            Destino::Aqui { pendentes, .. } => {
                pendentes.push(lote);
                Ok(())
            }
            Destino::Tarefa(lotes) => match lotes.try_send(lote) {
                Ok(()) | Err(TrySendError::Closed(_)) => Ok(()),
                Err(TrySendError::Full(lote)) => Err(lote),
            },
        }
    }

    /// Delivers `lote`, waiting for room in a writer task's queue.
    pub async fn esperar(&mut self, lote: Lote) {
        match &mut self.destino {
            Destino::Aqui { pendentes, .. } => pendentes.push(lote),
            Destino::Tarefa(lotes) => {
                let _ = lotes.send(lote).await;
            }
        }
    }

    /// A writer task's queue, to wait for room in it ([`Vaga::em`]); `None` when the actor
    /// commits itself.
    pub fn fila(&self) -> Option<mpsc::Sender<Lote>> {
        match &self.destino {
            Destino::Aqui { .. } => None,
            Destino::Tarefa(lotes) => Some(lotes.clone()),
        }
    }

    /// When the actor commits itself and lots are pending: stores them all in one transaction
    /// and says so. `None` otherwise (a writer task reports on its own).
    pub fn descarregar(&mut self) -> Option<Gravado> {
        match &mut self.destino {
            Destino::Aqui {
                escritor,
                pendentes,
            } if !pendentes.is_empty() => Some(escritor.gravar_lotes(std::mem::take(pendentes))),
            _ => None,
        }
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

/// The lots of one transaction, merged: up to which lot it goes, every record, every lookup.
pub(super) struct Juntos {
    /// The last lot's number.
    pub ate: u64,
    /// Every lot's records, in order.
    pub registros: Vec<Registro>,
    /// Every lot's lookups, in order.
    pub consultas: Vec<Consulta>,
}

impl Juntos {
    /// Merges `lotes` (in order).
    pub(super) fn de(lotes: Vec<Lote>) -> Juntos {
        let mut juntos = Juntos {
            ate: lotes.last().map_or(0, |lote| lote.numero),
            registros: Vec::new(),
            consultas: Vec::new(),
        };
        for lote in lotes {
            juntos.registros.extend(lote.registros);
            juntos.consultas.extend(lote.consultas);
        }
        juntos
    }
}
