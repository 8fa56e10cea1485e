//! The SQLite writer: one rusqlite connection the actor commits through itself, between batches
//! of commands, with no hand-off to another thread. Each transaction takes every lot of the
//! batch (group commit), runs statements prepared once and kept in the connection's cache, and
//! commits in WAL mode with `synchronous = NORMAL`: a commit survives a crash of the broker (the
//! log is in the operating system's hands) without waiting for the disk, and costs tens of
//! microseconds, less than a hand-off to a writer thread and back (measured: BENCHMARKS.md).
//! The lookups of the lots are answered right after, on the same connection.
//!
//! The one wait for the disk SQLite still has in WAL mode is the checkpoint (copying the log
//! into the database file, with an fsync), which it would otherwise run inside a commit every
//! thousand pages, holding every chat up for milliseconds. The writer's connection never
//! checkpoints; a second connection on a thread of its own does, every second, in the mode that
//! never blocks the writer (`PASSIVE`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, params};
use tracing::error;

use crate::indicadores;

use super::consultas::{Conversa, SELECIONAR_CONVERSAS, anterior};
use super::gravador::{Consulta, Gravado, Juntos, Lote, Resposta};
use super::linhas::{Linhas, Passagem};
use super::{ErroBanco, id_do_banco};
use proto::ANTERIORES_MAXIMO;

/// Opens the writer's connection to the SQLite file at `caminho` (whose schema is already up to
/// date), and starts its checkpoints.
pub(super) fn abrir(
    caminho: &Path,
    base_ms: i64,
    seqs: HashMap<u64, i64>,
) -> Result<EscritorSqlite, ErroBanco> {
    let conexao = Connection::open(caminho)?;
    conexao.busy_timeout(Duration::from_secs(5))?;
    conexao.pragma_update(None, "journal_mode", "WAL")?;
    conexao.pragma_update(None, "synchronous", "NORMAL")?;
    conexao.pragma_update(None, "wal_autocheckpoint", 0)?;
    conexao.set_prepared_statement_cache_capacity(32);
    let checkpoints = iniciar_checkpoints(caminho)?;
    Ok(EscritorSqlite {
        conexao,
        base_ms,
        seqs,
        _checkpoints: checkpoints,
    })
}

/// How often the log is copied into the database file.
const INTERVALO_DE_CHECKPOINT: Duration = Duration::from_secs(1);

/// Starts the thread that checkpoints the database at `caminho` every
/// [`INTERVALO_DE_CHECKPOINT`] until the returned sender is dropped (then once more).
fn iniciar_checkpoints(caminho: &Path) -> Result<std::sync::mpsc::Sender<()>, ErroBanco> {
    let conexao = Connection::open(caminho)?;
    conexao.busy_timeout(Duration::from_secs(5))?;
    let (parar, parada) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("fila-checkpoint".into())
        .spawn(move || {
            loop {
                let fim = !matches!(
                    parada.recv_timeout(INTERVALO_DE_CHECKPOINT),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                );
                let resultado: rusqlite::Result<(i64, i64, i64)> =
                    conexao.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |linha| {
                        Ok((linha.get(0)?, linha.get(1)?, linha.get(2)?))
                    });
                if let Err(erro) = resultado {
                    error!(%erro, "checkpoint do histórico falhou");
                }
                if fim {
                    return;
                }
            }
        })?;
    Ok(parar)
}

/// The writer's connection and what it keeps across transactions.
pub struct EscritorSqlite {
    conexao: Connection,
    /// The epoch time, in milliseconds, of the broker's uptime zero.
    base_ms: i64,
    /// The number of the last line stored in each open conversation.
    seqs: HashMap<u64, i64>,
    /// Dropped with the writer: the checkpoints then stop, after a last one.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

impl std::fmt::Debug for EscritorSqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscritorSqlite").finish_non_exhaustive()
    }
}

impl EscritorSqlite {
    /// Stores `lotes` in one transaction and answers their lookups.
    pub(super) fn gravar_lotes(&mut self, lotes: Vec<Lote>) -> Gravado {
        let Juntos {
            ate,
            registros,
            consultas,
        } = Juntos::de(lotes);
        if !registros.is_empty() {
            let quantos = registros.len();
            let linhas = Linhas::de(registros, self.base_ms, &mut self.seqs);
            let inicio = std::time::Instant::now();
            if let Err(erro) = self.gravar(linhas) {
                error!(%erro, registros = quantos, "não foi possível gravar no histórico");
            }
            indicadores::medir_commit(inicio.elapsed());
        }
        let respostas = consultas
            .into_iter()
            .filter_map(|consulta| self.responder(consulta))
            .collect();
        Gravado { ate, respostas }
    }

    /// Writes one transaction's rows.
    fn gravar(&mut self, linhas: Linhas) -> rusqlite::Result<()> {
        let transacao = self.conexao.transaction()?;
        {
            let mut inserir = transacao.prepare_cached(
                "INSERT INTO conversas \
                 (id, departamento, cliente, atendente, entrou_em, conectada_em) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for i in &linhas.inicios {
                inserir.execute(params![
                    i.id,
                    i.departamento,
                    i.cliente,
                    i.atendente,
                    i.entrou_em,
                    i.conectada_em
                ])?;
            }
            let mut inserir = transacao.prepare_cached(
                "INSERT INTO mensagens \
                 (conversa, seq, papel, autor, texto, enviada_em, seq_remetente) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for m in &linhas.mensagens {
                inserir.execute(params![
                    m.conversa,
                    m.seq,
                    m.papel,
                    m.autor,
                    m.texto,
                    m.enviada_em,
                    m.seq_remetente
                ])?;
            }
            let mut transferir = transacao.prepare_cached(
                "INSERT INTO transferencias (conversa, de, para, em, sem_resposta) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut assumir = transacao.prepare_cached(
                "UPDATE transferencias SET assumida_por = ?2, assumida_em = ?3 \
                 WHERE conversa = ?1 AND assumida_por IS NULL",
            )?;
            for passagem in &linhas.passagens {
                match passagem {
                    Passagem::Transferencia(t) => transferir.execute(params![
                        t.conversa,
                        t.de,
                        t.para,
                        t.em,
                        t.sem_resposta
                    ])?,
                    Passagem::Assumida(a) => {
                        assumir.execute(params![a.conversa, a.atendente, a.em])?
                    }
                };
            }
            let mut encerrar = transacao.prepare_cached(
                "UPDATE conversas SET encerrada_em = ?2, motivo = ?3 WHERE id = ?1",
            )?;
            for f in &linhas.fins {
                encerrar.execute(params![f.conversa, f.em, f.motivo])?;
            }
            let mut avaliar = transacao
                .prepare_cached("UPDATE conversas SET nota = ?2, avaliada_em = ?3 WHERE id = ?1")?;
            for a in &linhas.avaliacoes {
                avaliar.execute(params![a.conversa, a.nota, a.em])?;
            }
            let mut esperar = transacao.prepare_cached(
                "INSERT INTO esperas (departamento, cliente, entrou_em, terminou_em, atendida) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in &linhas.esperas {
                esperar.execute(params![
                    e.departamento,
                    e.cliente,
                    e.entrou_em,
                    e.terminou_em,
                    e.atendida
                ])?;
            }
            let super::diario::PartesDoDiario {
                limpar,
                idas,
                salvas,
            } = linhas.diario.partes(self.base_ms);
            if limpar {
                transacao.execute("DELETE FROM sessoes", [])?;
            }
            let mut apagar = transacao.prepare_cached("DELETE FROM sessoes WHERE id = ?1")?;
            for id in idas {
                apagar.execute([id])?;
            }
            let mut salvar = transacao.prepare_cached(
                "INSERT INTO sessoes (id, estado) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET estado = excluded.estado",
            )?;
            for (id, estado) in salvas {
                salvar.execute(params![id, estado])?;
            }
        }
        transacao.commit()
    }

    /// Answers a lookup (`None`, logged, if the database fails).
    fn responder(&self, consulta: Consulta) -> Option<Resposta> {
        Resposta::a(
            &consulta,
            self.anteriores(&consulta.cliente, consulta.conversa),
        )
    }

    /// `cliente`'s most recent conversations before `conversa`, newest first.
    fn anteriores(&self, cliente: &str, conversa: u64) -> rusqlite::Result<Vec<proto::Anterior>> {
        let mut consulta = self.conexao.prepare_cached(&format!(
            "{SELECIONAR_CONVERSAS} WHERE c.cliente = ?1 AND c.id < ?2 \
             ORDER BY c.conectada_em DESC, c.id DESC LIMIT ?3"
        ))?;
        let limite = i64::try_from(ANTERIORES_MAXIMO).unwrap_or(i64::MAX);
        let linhas =
            consulta.query_map(params![cliente, id_do_banco(conversa), limite], |linha| {
                Ok(Conversa {
                    id: linha.get(0)?,
                    departamento: linha.get(1)?,
                    cliente: linha.get(2)?,
                    atendente: linha.get(3)?,
                    entrou_em: linha.get(4)?,
                    conectada_em: linha.get(5)?,
                    encerrada_em: linha.get(6)?,
                    motivo: linha.get(7)?,
                    mensagens: linha.get(8)?,
                    nota: linha.get(9)?,
                })
            })?;
        linhas.map(|linha| linha.map(anterior)).collect()
    }
}
