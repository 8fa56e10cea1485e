//! What a batch of the state machine's records becomes in the tables: conversations started,
//! chat lines, transfers and who took them over, conversations ended and rated, customers' waits,
//! and the journal's sessions. Both writers (SQLite's and
//! PostgreSQL's) store the same rows, in this order, so a line never precedes its conversation.

use std::collections::HashMap;
use std::time::Duration;

use crate::matchmaking::Registro;

use super::diario::Anotacoes;
use super::{id_do_banco, nome_do_motivo};

/// A row of `conversas`, as a chat starts.
#[derive(Debug)]
pub(super) struct Inicio {
    pub id: i64,
    pub departamento: String,
    pub cliente: String,
    pub atendente: String,
    pub entrou_em: i64,
    pub conectada_em: i64,
}

/// A row of `mensagens`.
#[derive(Debug)]
pub(super) struct Linha {
    pub conversa: i64,
    /// Its place in the conversation, from 1.
    pub seq: i64,
    pub papel: &'static str,
    pub autor: String,
    pub texto: String,
    pub enviada_em: i64,
    /// The sender's own number for it (0: unnumbered).
    pub seq_remetente: i64,
}

/// The end of a conversation: an update of its row.
#[derive(Debug)]
pub(super) struct Fim {
    pub conversa: i64,
    pub motivo: &'static str,
    pub em: i64,
}

/// A customer's rating: an update of its conversation's row.
#[derive(Debug)]
pub(super) struct Avaliacao {
    pub conversa: i64,
    pub nota: i64,
    pub em: i64,
}

/// A transfer, or who took it over.
#[derive(Debug)]
pub(super) enum Passagem {
    /// A chat handed over.
    Transferencia(Transferencia),
    /// An agent took it over.
    Assumida(Assumida),
}

/// A row of `transferencias`: a chat handed over.
#[derive(Debug)]
pub(super) struct Transferencia {
    pub conversa: i64,
    pub de: String,
    pub para: String,
    /// 1 when the agent did not answer in time rather than hand the chat over.
    pub sem_resposta: i64,
    pub em: i64,
}

/// Who took over a handed-over chat: an update of its pending `transferencias` row.
#[derive(Debug)]
pub(super) struct Assumida {
    pub conversa: i64,
    pub atendente: String,
    pub em: i64,
}

/// A row of `esperas`: a customer's first wait, over.
#[derive(Debug)]
pub(super) struct Espera {
    pub departamento: String,
    pub cliente: String,
    pub entrou_em: i64,
    pub terminou_em: i64,
    /// 1 when an agent answered it, 0 when the customer left first.
    pub atendida: i64,
}

/// One transaction's rows.
#[derive(Debug, Default)]
pub(super) struct Linhas {
    pub inicios: Vec<Inicio>,
    pub mensagens: Vec<Linha>,
    /// Transfers and take-overs, in the order they happened (a take-over follows its transfer).
    pub passagens: Vec<Passagem>,
    pub fins: Vec<Fim>,
    pub avaliacoes: Vec<Avaliacao>,
    pub esperas: Vec<Espera>,
    /// The journal's part, coalesced per session.
    pub diario: Anotacoes,
}

impl Linhas {
    /// The rows of `registros`, with uptimes turned into milliseconds since the epoch
    /// (`base_ms` is uptime zero's). `seqs` numbers each open conversation's lines; the writer
    /// keeps it across batches.
    pub(super) fn de(
        registros: Vec<Registro>,
        base_ms: i64,
        seqs: &mut HashMap<u64, i64>,
    ) -> Linhas {
        let ms = |uptime: Duration| base_ms + i64::try_from(uptime.as_millis()).unwrap_or(0);
        let mut linhas = Linhas::default();
        for registro in registros {
            let Some(registro) = linhas.diario.anotar(registro) else {
                continue;
            };
            match registro {
                Registro::Inicio {
                    conversa,
                    departamento,
                    cliente,
                    atendente,
                    entrou_em,
                    conectada_em,
                } => linhas.inicios.push(Inicio {
                    id: id_do_banco(conversa),
                    departamento,
                    cliente,
                    atendente,
                    entrou_em: ms(entrou_em),
                    conectada_em: ms(conectada_em),
                }),
                Registro::Mensagem {
                    conversa,
                    seq,
                    do_atendente,
                    autor,
                    texto,
                    em,
                } => {
                    let ordem = seqs.entry(conversa).or_insert(0);
                    *ordem += 1;
                    linhas.mensagens.push(Linha {
                        conversa: id_do_banco(conversa),
                        seq: *ordem,
                        papel: if do_atendente { "atendente" } else { "cliente" },
                        autor,
                        texto,
                        enviada_em: ms(em),
                        seq_remetente: id_do_banco(seq),
                    });
                }
                Registro::Fim {
                    conversa,
                    motivo,
                    em,
                } => {
                    seqs.remove(&conversa);
                    linhas.fins.push(Fim {
                        conversa: id_do_banco(conversa),
                        motivo: nome_do_motivo(motivo),
                        em: ms(em),
                    });
                }
                Registro::Transferencia {
                    conversa,
                    de,
                    para,
                    sem_resposta,
                    em,
                } => linhas
                    .passagens
                    .push(Passagem::Transferencia(Transferencia {
                        conversa: id_do_banco(conversa),
                        de,
                        para,
                        sem_resposta: i64::from(sem_resposta),
                        em: ms(em),
                    })),
                Registro::Assumida {
                    conversa,
                    atendente,
                    em,
                } => linhas.passagens.push(Passagem::Assumida(Assumida {
                    conversa: id_do_banco(conversa),
                    atendente,
                    em: ms(em),
                })),
                Registro::Avaliacao { conversa, nota, em } => linhas.avaliacoes.push(Avaliacao {
                    conversa: id_do_banco(conversa),
                    nota: i64::from(nota),
                    em: ms(em),
                }),
                Registro::FimDeEspera {
                    departamento,
                    cliente,
                    entrou_em,
                    terminou_em,
                    atendida,
                } => linhas.esperas.push(Espera {
                    departamento,
                    cliente,
                    entrou_em: ms(entrou_em),
                    terminou_em: ms(terminou_em),
                    atendida: i64::from(atendida),
                }),
                Registro::Sessao(_) | Registro::SessaoSaiu { .. } | Registro::SemSessoes => {}
            }
        }
        linhas
    }
}
