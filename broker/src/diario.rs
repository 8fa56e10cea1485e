//! The store side of the journal: the `sessoes` table, where the state machine's session
//! snapshots ([`Instantaneo`]) are kept so that a broker killed without warning restarts with
//! its lines and open chats (see [`crate::matchmaking::Instantaneo`] for what a snapshot holds).
//!
//! Snapshots are written by the history's writer in the same transaction as the history
//! records of the same events, so the two always agree; within one batch only the latest
//! snapshot of each session is written.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proto::SessaoId;
use proto::codec::{codificar, decodificar};
use sqlx::{Any, Transaction};
use tracing::warn;

use crate::historico::{
    ErroHistorico, Historico, agora_ms, base_ms, em_partes, id_do_banco, insert_de_varias_linhas,
};
use crate::matchmaking::{Instantaneo, LinhaSalva, Registro};

/// The journal records of one batch, coalesced.
#[derive(Debug, Default)]
pub(crate) struct Anotacoes {
    /// Whether every stored session is to be forgotten first (a graceful shutdown).
    limpar: bool,
    /// The latest snapshot of each session touched (`None`: it is gone).
    sessoes: BTreeMap<SessaoId, Option<Box<Instantaneo>>>,
}

impl Anotacoes {
    /// Takes in a record if it is a journal one; returns the others back.
    pub(crate) fn anotar<'a>(&mut self, registro: &'a Registro) -> Option<&'a Registro> {
        match registro {
            Registro::Sessao(instantaneo) => {
                self.sessoes
                    .insert(instantaneo.sessao, Some(instantaneo.clone()));
            }
            Registro::SessaoSaiu { sessao } => {
                self.sessoes.insert(*sessao, None);
            }
            Registro::SemSessoes => {
                self.limpar = true;
                self.sessoes.clear();
            }
            outro => return Some(outro),
        }
        None
    }

    /// Writes them within `transacao`, with times moved from the broker's uptime to time since
    /// the epoch (`base_ms` is the epoch time of uptime zero).
    pub(crate) async fn gravar(
        self,
        transacao: &mut Transaction<'static, Any>,
        base_ms: i64,
    ) -> Result<(), ErroHistorico> {
        if self.limpar {
            sqlx::query("DELETE FROM sessoes")
                .execute(&mut **transacao)
                .await?;
        }
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
        for parte in em_partes(&idas) {
            let lista = insert_de_varias_linhas("", 1, parte.len());
            let sql = format!(
                "DELETE FROM sessoes WHERE id IN ({})",
                lista.replace(['(', ')'], "")
            );
            let mut consulta = sqlx::query(&sql);
            for id in parte {
                consulta = consulta.bind(*id);
            }
            consulta.execute(&mut **transacao).await?;
        }
        for parte in em_partes(&salvas) {
            let sql =
                insert_de_varias_linhas("INSERT INTO sessoes (id, estado) VALUES ", 2, parte.len())
                    + " ON CONFLICT (id) DO UPDATE SET estado = excluded.estado";
            let mut consulta = sqlx::query(&sql);
            for (id, estado) in parte {
                consulta = consulta.bind(*id).bind(estado.clone());
            }
            consulta.execute(&mut **transacao).await?;
        }
        Ok(())
    }
}

impl Historico {
    /// The sessions the journal holds (left by a broker that did not shut down gracefully),
    /// with their times in milliseconds since the epoch ([`Instantaneo::deslocar`] moves them to
    /// a new broker's uptime). A snapshot that cannot be read (say, written by another version)
    /// is skipped with a warning.
    pub async fn sessoes_salvas(&self) -> Result<Vec<Instantaneo>, ErroHistorico> {
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
    pub async fn linhas_das_abertas(&self) -> Result<Vec<LinhaSalva>, ErroHistorico> {
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
    pub(crate) async fn seqs_das_abertas(&self) -> Result<HashMap<u64, i64>, ErroHistorico> {
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
