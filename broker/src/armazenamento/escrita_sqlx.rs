//! The writer over sqlx, for PostgreSQL: a task on the runtime (the driver is async). Each
//! transaction takes every lot queued (group commit) and stores its rows with multi-row inserts
//! of a few fixed sizes, so a transaction costs a few round trips to the server rather than one
//! per record, and the statements stay prepared in sqlx's cache. The lots' lookups are answered
//! right after the commit, all at once over the pool's connections.
//!
//! The active broker of a cluster writes under its [`Mandato`]: each transaction first checks
//! the cluster's epoch ([`lideranca::conferir_epoca`]). A transaction that cannot be stored,
//! for that or any other reason, is not reported: the mandate is lost, and nothing of it is
//! confirmed or delivered; the broker steps down, and the active that takes over restores the
//! journal as it was before it.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{Any, Transaction};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::error;

use crate::indicadores;
use crate::mandato::{self, Mandato};

use super::gravador::{Gravado, Juntos, Lote, Resposta, juntar};
use super::lideranca;
use super::linhas::{Linhas, Passagem};
use super::{Banco, ErroBanco};

/// Starts the writer on `banco`: lots from `lotes`, reports to `avisos`; times from the epoch
/// time of the uptime zero and the open conversations' last line numbers (`numeracao`).
pub(super) fn iniciar(
    banco: Banco,
    numeracao: (i64, HashMap<u64, i64>),
    mandato: Option<Arc<Mandato>>,
    mut lotes: mpsc::Receiver<Lote>,
    avisos: mpsc::UnboundedSender<Gravado>,
) -> JoinHandle<()> {
    let (base_ms, mut seqs) = numeracao;
    tokio::spawn(async move {
        while let Some(juntos) = juntar(lotes.recv().await, &mut lotes) {
            if !mandato::vale(mandato.as_deref()) {
                break;
            }
            let Juntos {
                ate,
                registros,
                consultas,
            } = Juntos::de(juntos);
            if !registros.is_empty() {
                let quantos = registros.len();
                let linhas = Linhas::de(registros, base_ms, &mut seqs);
                let inicio = std::time::Instant::now();
                let gravacao = gravar(&banco, linhas, base_ms, mandato.as_deref());
                // A transaction in flight when the mandate is lost is dropped: nothing of it
                // would be confirmed anyway, and a route to the server that died must not hold
                // up the step-down.
                let resultado = tokio::select! {
                    resultado = gravacao => resultado,
                    () = mandato::perdido(mandato.as_deref()) => break,
                };
                if let Err(erro) = resultado {
                    error!(%erro, registros = quantos, "não foi possível gravar no histórico");
                    if let Some(mandato) = &mandato {
                        mandato.perder();
                        break;
                    }
                }
                indicadores::medir_commit(inicio.elapsed());
            }
            // The lookups run at once, each on a connection of the pool.
            let respostas = futures::future::join_all(consultas.into_iter().map(|consulta| {
                let banco = &banco;
                async move {
                    let resultado = banco.anteriores(&consulta.cliente, consulta.conversa).await;
                    Resposta::a(&consulta, resultado)
                }
            }))
            .await
            .into_iter()
            .flatten()
            .collect();
            let _ = avisos.send(Gravado { ate, respostas });
        }
    })
}

/// Stores one transaction's rows (under `mandato`'s epoch, when given).
async fn gravar(
    banco: &Banco,
    linhas: Linhas,
    base_ms: i64,
    mandato: Option<&Mandato>,
) -> Result<(), ErroBanco> {
    let mut transacao = banco.pool.begin().await?;
    if let Some(mandato) = mandato
        && !lideranca::conferir_epoca(&mut transacao, &mandato.grupo, mandato.epoca).await?
    {
        return Err(ErroBanco::Destituido(mandato.epoca));
    }
    for parte in em_partes(&linhas.inicios) {
        let sql = insert_de_varias_linhas(
            "INSERT INTO conversas \
             (id, departamento, cliente, atendente, entrou_em, conectada_em) VALUES ",
            6,
            parte.len(),
        );
        let mut consulta = sqlx::query(&sql);
        for i in parte {
            consulta = consulta
                .bind(i.id)
                .bind(i.departamento.clone())
                .bind(i.cliente.clone())
                .bind(i.atendente.clone())
                .bind(i.entrou_em)
                .bind(i.conectada_em);
        }
        consulta.execute(&mut *transacao).await?;
    }
    for parte in em_partes(&linhas.mensagens) {
        let sql = insert_de_varias_linhas(
            "INSERT INTO mensagens \
             (conversa, seq, papel, autor, texto, enviada_em, seq_remetente) VALUES ",
            7,
            parte.len(),
        );
        let mut consulta = sqlx::query(&sql);
        for m in parte {
            consulta = consulta
                .bind(m.conversa)
                .bind(m.seq)
                .bind(m.papel)
                .bind(m.autor.clone())
                .bind(m.texto.clone())
                .bind(m.enviada_em)
                .bind(m.seq_remetente);
        }
        consulta.execute(&mut *transacao).await?;
    }
    // Transfers are rare: one statement each.
    for passagem in &linhas.passagens {
        let consulta = match passagem {
            Passagem::Transferencia(t) => sqlx::query(
                "INSERT INTO transferencias (conversa, de, para, em, sem_resposta) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(t.conversa)
            .bind(t.de.clone())
            .bind(t.para.clone())
            .bind(t.em)
            .bind(t.sem_resposta),
            Passagem::Assumida(a) => sqlx::query(
                "UPDATE transferencias SET assumida_por = $2, assumida_em = $3 \
                 WHERE conversa = $1 AND assumida_por IS NULL",
            )
            .bind(a.conversa)
            .bind(a.atendente.clone())
            .bind(a.em),
        };
        consulta.execute(&mut *transacao).await?;
    }
    // One statement per part, not per conversation: each is a round trip. (A VALUES list names
    // its columns column1, column2, ... in both databases.)
    for parte in em_partes(&linhas.fins) {
        let sql = insert_de_varias_linhas(
            "UPDATE conversas SET encerrada_em = v.column2, motivo = v.column3 FROM (VALUES ",
            3,
            parte.len(),
        ) + ") AS v WHERE conversas.id = v.column1";
        let mut consulta = sqlx::query(&sql);
        for f in parte {
            consulta = consulta.bind(f.conversa).bind(f.em).bind(f.motivo);
        }
        consulta.execute(&mut *transacao).await?;
    }
    // Ratings are one per chat at most: one statement each.
    for a in &linhas.avaliacoes {
        sqlx::query("UPDATE conversas SET nota = $2, avaliada_em = $3 WHERE id = $1")
            .bind(a.conversa)
            .bind(a.nota)
            .bind(a.em)
            .execute(&mut *transacao)
            .await?;
    }
    for parte in em_partes(&linhas.esperas) {
        let sql = insert_de_varias_linhas(
            "INSERT INTO esperas \
             (departamento, cliente, entrou_em, terminou_em, atendida) VALUES ",
            5,
            parte.len(),
        );
        let mut consulta = sqlx::query(&sql);
        for e in parte {
            consulta = consulta
                .bind(e.departamento.clone())
                .bind(e.cliente.clone())
                .bind(e.entrou_em)
                .bind(e.terminou_em)
                .bind(e.atendida);
        }
        consulta.execute(&mut *transacao).await?;
    }
    gravar_diario(&mut transacao, linhas, base_ms).await?;
    transacao.commit().await?;
    Ok(())
}

/// The journal's part of a transaction.
async fn gravar_diario(
    transacao: &mut Transaction<'static, Any>,
    linhas: Linhas,
    base_ms: i64,
) -> Result<(), ErroBanco> {
    let super::diario::PartesDoDiario {
        limpar,
        idas,
        salvas,
    } = linhas.diario.partes(base_ms);
    if limpar {
        sqlx::query("DELETE FROM sessoes")
            .execute(&mut **transacao)
            .await?;
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

/// Rows per multi-row insert. Only these sizes are used, so that the few statements they make
/// stay prepared in sqlx's statement cache (PostgreSQL pays a round trip to prepare one). 7
/// parameters a row stays far under the server's limit.
const TAMANHOS_DE_INSERT: [usize; 5] = [256, 64, 16, 4, 1];

/// Splits `linhas` into consecutive parts whose lengths are all in [`TAMANHOS_DE_INSERT`].
fn em_partes<T>(mut linhas: &[T]) -> Vec<&[T]> {
    let mut partes = Vec::new();
    for tamanho in TAMANHOS_DE_INSERT {
        while linhas.len() >= tamanho {
            let (parte, resto) = linhas.split_at(tamanho);
            partes.push(parte);
            linhas = resto;
        }
    }
    partes
}

/// `inicio` followed by `linhas` groups of `colunas` numbered parameters: `($1, $2), ($3, $4)`.
fn insert_de_varias_linhas(inicio: &str, colunas: usize, linhas: usize) -> String {
    let mut sql = String::from(inicio);
    for linha in 0..linhas {
        if linha > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for coluna in 0..colunas {
            if coluna > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", linha * colunas + coluna + 1));
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_de_varias_linhas_numera_os_parametros_em_ordem() {
        assert_eq!(
            insert_de_varias_linhas("INSERT INTO t (a, b) VALUES ", 2, 3),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
    }

    #[test]
    fn partes_de_tamanhos_fixos_e_em_ordem() {
        let linhas: Vec<usize> = (0..343).collect();
        let partes = em_partes(&linhas);
        let tamanhos: Vec<usize> = partes.iter().map(|p| p.len()).collect();
        assert_eq!(tamanhos, [256, 64, 16, 4, 1, 1, 1]);
        assert_eq!(partes.concat(), linhas);
        assert!(em_partes::<u8>(&[]).is_empty());
    }
}
