//! The store side of the journal: the `sessoes` table, where the state machine's session
//! snapshots ([`Instantaneo`]) are kept so that a broker killed without warning restarts with
//! its lines and open chats (see [`crate::matchmaking::Instantaneo`] for what a snapshot holds).
//!
//! Snapshots are written by the writer in the same transaction as the history records of the
//! same events, so the two always agree; within one batch only the latest snapshot of each
//! session is written ([`Anotacoes`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proto::SessaoId;
use proto::codec::{codificar, decodificar};
use tracing::warn;

use super::{Banco, ErroBanco, agora_ms, base_ms, id_do_banco};
use crate::matchmaking::{Instantaneo, LinhaSalva, Registro};

/// The journal records of one batch, coalesced.
#[derive(Debug, Default)]
pub(crate) struct Anotacoes {
    /// Whether every stored session is to be forgotten first (a graceful shutdown).
    limpar: bool,
    /// The latest snapshot of each session touched (`None`: it is gone).
    sessoes: BTreeMap<SessaoId, Option<Box<Instantaneo>>>,
}

/// The journal's rows of one transaction.
#[derive(Debug)]
pub(crate) struct PartesDoDiario {
    /// Whether to empty the table first.
    pub limpar: bool,
    /// The sessions to delete.
    pub idas: Vec<i64>,
    /// The sessions to insert or replace, with their encoded snapshots.
    pub salvas: Vec<(i64, Vec<u8>)>,
}

impl Anotacoes {
    /// Takes in a record if it is a journal one; gives the others back.
    pub(crate) fn anotar(&mut self, registro: Registro) -> Option<Registro> {
        match registro {
            Registro::Sessao(instantaneo) => {
                self.sessoes.insert(instantaneo.sessao, Some(instantaneo));
            }
            Registro::SessaoSaiu { sessao } => {
                self.sessoes.insert(sessao, None);
            }
            Registro::SemSessoes => {
                self.limpar = true;
                self.sessoes.clear();
            }
            outro => return Some(outro),
        }
        None
    }

    /// What to write, with times moved from the broker's uptime to time since the epoch
    /// (`base_ms` is the epoch time of uptime zero).
    pub(crate) fn partes(self, base_ms: i64) -> PartesDoDiario {
        let mut salvas = Vec::new();
        let mut idas = Vec::new();
        for (sessao, instantaneo) in self.sessoes {
            let Some(mut instantaneo) = instantaneo else {
                idas.push(id_do_banco(sessao));
                continue;
            };
            instantaneo.deslocar(base_ms);
            match codificar(&*instantaneo) {
                Ok(bytes) => salvas.push((id_do_banco(sessao), bytes.to_vec())),
                Err(erro) => warn!(sessao, %erro, "sessão impossível de codificar"),
            }
        }
        PartesDoDiario {
            limpar: self.limpar,
            idas,
            salvas,
        }
    }
}

impl Banco {
    /// The sessions the journal holds (left by a broker that did not shut down gracefully),
    /// with their times in milliseconds since the epoch ([`Instantaneo::deslocar`] moves them to
    /// a new broker's uptime). A snapshot that cannot be read (say, written by another version)
    /// is skipped with a warning.
    pub async fn sessoes_salvas(&self) -> Result<Vec<Instantaneo>, ErroBanco> {
        let linhas: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, estado FROM sessoes ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(linhas
            .into_iter()
            .filter_map(|(id, estado)| match decodificar::<Instantaneo>(&estado) {
                Ok(instantaneo) => Some(instantaneo),
                Err(erro) => {
                    warn!(sessao = id, %erro, "sessão salva ilegível: ignorada");
                    None
                }
            })
            .collect())
    }

    /// The lines of the conversations still open, in order: a restarted broker brings the
    /// sessions' snapshots up to date with them (see [`LinhaSalva`]).
    pub async fn linhas_das_abertas(&self) -> Result<Vec<LinhaSalva>, ErroBanco> {
        let linhas: Vec<(i64, i64, String, String, String, i64)> = sqlx::query_as(
            "SELECT m.conversa, m.seq, m.papel, m.autor, m.texto, m.seq_remetente \
             FROM mensagens m JOIN conversas c ON c.id = m.conversa \
             WHERE c.encerrada_em IS NULL ORDER BY m.conversa, m.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(linhas
            .into_iter()
            .map(
                |(conversa, seq, papel, autor, texto, seq_remetente)| LinhaSalva {
                    conversa: u64::try_from(conversa).unwrap_or(0),
                    seq: u64::try_from(seq).unwrap_or(0),
                    do_atendente: papel == "atendente",
                    autor,
                    texto,
                    seq_remetente: u64::try_from(seq_remetente).unwrap_or(0),
                },
            )
            .collect())
    }

    /// The number of the last line stored in each open conversation, so a restarted writer
    /// goes on numbering them.
    pub async fn seqs_das_abertas(&self) -> Result<HashMap<u64, i64>, ErroBanco> {
        let linhas: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT m.conversa, MAX(m.seq) FROM mensagens m \
             JOIN conversas c ON c.id = m.conversa \
             WHERE c.encerrada_em IS NULL GROUP BY m.conversa",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(linhas
            .into_iter()
            .filter_map(|(conversa, seq)| Some((u64::try_from(conversa).ok()?, seq)))
            .collect())
    }
}

/// Picks the restarted broker's uptime zero, early enough that every restored customer joined
/// after it (so their waits and the history's times stay right), and moves the snapshots' times
/// from the epoch to that uptime. Returns the uptime zero.
pub fn acertar_relogio(salvas: &mut [Instantaneo]) -> tokio::time::Instant {
    let agora_ms = agora_ms();
    let mais_antigo = salvas
        .iter()
        .filter_map(Instantaneo::entrou_em_ms)
        .min()
        .and_then(|ms| i64::try_from(ms).ok());
    let idade = mais_antigo.map_or(0, |ms| agora_ms.saturating_sub(ms).max(0));
    let agora = tokio::time::Instant::now();
    // An uptime zero before the machine's own start cannot be had: then waits come out short.
    let inicio = agora
        .checked_sub(Duration::from_millis(u64::try_from(idade).unwrap_or(0)))
        .unwrap_or(agora);
    let base_ms = base_ms(inicio);
    for salva in salvas {
        salva.deslocar(-base_ms);
    }
    inicio
}
