//! The journal of the state machine: what it must write down so that a broker killed without
//! warning comes back with every line and every open chat.
//!
//! With [`Parametros::diario`](super::Parametros::diario) set, after every event the machine
//! emits a [`Registro::Sessao`] snapshot of each session the event changed (every session it
//! sent a frame that tells of a change to, suspended, resumed or let go; a session it let go is
//! a [`Registro::SessaoSaiu`]). The store keeps the latest snapshot per session.
//!
//! Chat lines are the exception, because they are most of the traffic: relaying one changes
//! both sides (what the reader is sent, what the writer had accepted) but writes no snapshot.
//! The history already stores every line, with the number the sender gave it and its place in
//! the conversation, and a snapshot records how many lines its chat had. So the snapshots, plus
//! the lines stored after them ([`LinhaSalva`]), describe the machine as of the last event
//! stored. [`Matchmaker::restaurar`] builds a machine back from them, with every session
//! suspended: its peer has the grace period to resume it, as after any drop. Tombstones (a
//! customer whose agent ended the chat while it was away) are journaled too, so such a customer
//! still gets its `Fim` from a restarted broker. Secrets are journaled as their digest only.

use std::collections::BTreeSet;
use std::time::Duration;

use proto::{DoBroker, Ficha, SessaoId};
use serde::{Deserialize, Serialize};

use super::retomada::Retomavel;
use super::{Efeito, Estado, Matchmaker, PapelSessao, Parametros, Registro, Sessao};

/// One session as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instantaneo {
    /// The session's id.
    pub sessao: SessaoId,
    /// Its name.
    nome: String,
    /// Its role, with what the role needs.
    papel: PapelSalvo,
    /// Where it is.
    estado: EstadoSalvo,
    /// The highest chat line `seq` handled from it.
    ultima_aceita: u64,
    /// What resuming it needs: its secret, the numbered frames sent to it, the ones kept.
    retomada: Option<(Ficha, u64, Vec<DoBroker>)>,
}

/// A session's role, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum PapelSalvo {
    /// A customer.
    Cliente {
        /// Its department.
        departamento: String,
        /// Its arrival number (its place in line).
        chegada: u64,
        /// When it joined, in milliseconds of the broker's uptime (the store keeps it as
        /// milliseconds since the Unix epoch: see [`Instantaneo::deslocar`]).
        entrou_em_ms: u64,
    },
    /// An agent.
    Atendente {
        /// The departments it serves.
        departamentos: Vec<String>,
        /// Whether it asked to pause.
        pausado: bool,
    },
}

/// Where a session is, as the journal keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum EstadoSalvo {
    /// A customer in line.
    Aguardando,
    /// An agent in no chat (free, paused or suspended).
    Parado,
    /// In a chat.
    EmConversa {
        /// The other side.
        parceiro: SessaoId,
        /// The conversation.
        conversa: u64,
        /// Lines relayed in it so far (both ways).
        linhas: u64,
    },
    /// A tombstone: a customer the broker ended while its connection was down, kept only so
    /// that its resume still gets the end (its name and role are not kept).
    Encerrada,
}

/// A chat line of an open conversation, as the history stored it: what a restored machine
/// needs to bring the sessions' snapshots up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinhaSalva {
    /// The conversation.
    pub conversa: u64,
    /// Its place in the conversation, from 1.
    pub seq: u64,
    /// Whether the agent sent it (otherwise the customer).
    pub do_atendente: bool,
    /// The sender's name.
    pub autor: String,
    /// The text.
    pub texto: String,
    /// The sender's own number for it (0: unnumbered).
    pub seq_remetente: u64,
}

impl Instantaneo {
    /// Moves the snapshot's times by `ms` milliseconds (saturating at zero): the store turns
    /// the broker's uptime into time since the epoch when it writes a snapshot, and back into
    /// the new broker's uptime when it reads one.
    pub fn deslocar(&mut self, ms: i64) {
        if let PapelSalvo::Cliente { entrou_em_ms, .. } = &mut self.papel {
            *entrou_em_ms = entrou_em_ms.saturating_add_signed(ms);
        }
    }

    /// When the session's customer joined its line, in the snapshot's time (agents and
    /// tombstones: `None`).
    pub fn entrou_em_ms(&self) -> Option<u64> {
        match self.papel {
            _ if self.estado == EstadoSalvo::Encerrada => None,
            PapelSalvo::Cliente { entrou_em_ms, .. } => Some(entrou_em_ms),
            PapelSalvo::Atendente { .. } => None,
        }
    }

    /// A tombstone's snapshot: only what delivering its end needs.
    fn de_lapide(id: SessaoId, lapide: &Retomavel) -> Instantaneo {
        Instantaneo {
            sessao: id,
            nome: String::new(),
            papel: PapelSalvo::Cliente {
                departamento: String::new(),
                chegada: 0,
                entrou_em_ms: 0,
            },
            estado: EstadoSalvo::Encerrada,
            ultima_aceita: 0,
            retomada: Some(lapide.salvar()),
        }
    }
}

impl Matchmaker {
    /// Appends to `efeitos` the journal records of the sessions its frames and closes touch.
    pub(super) fn anotar(&self, efeitos: &mut Vec<Efeito>) {
        if !self.parametros.diario {
            return;
        }
        let tocadas: BTreeSet<SessaoId> = efeitos
            .iter()
            .filter_map(|efeito| match efeito {
                // Positions, waiting counts and errors change nothing a snapshot holds (a
                // place in line is kept as the arrival number): leaving them out keeps a
                // line's every move from rewriting every customer in it.
                // Chat lines and their confirmations are rebuilt from the history instead.
                Efeito::Enviar {
                    quadro:
                        DoBroker::Fila { .. }
                        | DoBroker::Espera { .. }
                        | DoBroker::Erro { .. }
                        | DoBroker::Anteriores { .. }
                        | DoBroker::Ping
                        | DoBroker::Mensagem { .. }
                        | DoBroker::Confirmada { .. },
                    ..
                } => None,
                Efeito::Enviar { para, .. } | Efeito::Reenviar { para, .. } => Some(*para),
                Efeito::Fechar { sessao }
                | Efeito::Desligar { sessao }
                | Efeito::Retomar { sessao, .. } => Some(*sessao),
                Efeito::Registrar(_) | Efeito::ConsultarAnteriores { .. } => None,
            })
            .collect();
        for id in tocadas {
            let registro = match (self.sessoes.get(&id), self.lapides.get(&id)) {
                (Some(sessao), _) => Registro::Sessao(Box::new(instantaneo(id, sessao))),
                (None, Some(lapide)) => {
                    Registro::Sessao(Box::new(Instantaneo::de_lapide(id, lapide)))
                }
                (None, None) => Registro::SessaoSaiu { sessao: id },
            };
            efeitos.push(Efeito::Registrar(registro));
        }
    }

    /// A machine with the given limits and the sessions of a journal, each suspended until
    /// `agora` plus the grace period, brought up to date with the `linhas` the history stored
    /// for their open chats. Snapshots that do not fit together (a chat whose other side is
    /// missing) are mended: the customer goes back to its line, the agent stops.
    pub fn restaurar(
        parametros: Parametros,
        salvas: Vec<Instantaneo>,
        linhas: &[LinhaSalva],
        agora: Duration,
    ) -> Self {
        let mut maquina = Matchmaker::com_parametros(parametros);
        let prazo = agora.saturating_add(parametros.tolerancia);
        let mut conversas = BTreeSet::new();
        for salva in &salvas {
            if let EstadoSalvo::EmConversa {
                parceiro, conversa, ..
            } = salva.estado
            {
                conversas.insert((salva.sessao, parceiro, conversa));
            }
        }
        for salva in salvas {
            if salva.estado == EstadoSalvo::Encerrada {
                maquina.restaurar_lapide(salva, prazo);
                continue;
            }
            let Instantaneo {
                sessao: id,
                nome,
                papel,
                estado,
                mut ultima_aceita,
                mut retomada,
            } = salva;
            let mut vistas = 0;
            let estado = match estado {
                EstadoSalvo::EmConversa {
                    parceiro,
                    conversa,
                    linhas: ja_vistas,
                } if conversas.contains(&(parceiro, id, conversa)) => {
                    maquina.proxima_conversa = maquina.proxima_conversa.max(conversa);
                    let atendente = matches!(papel, PapelSalvo::Atendente { .. });
                    vistas = ja_vistas;
                    let depois = linhas
                        .iter()
                        .filter(|linha| linha.conversa == conversa && linha.seq > ja_vistas);
                    for linha in depois {
                        vistas = vistas.max(linha.seq);
                        if linha.do_atendente == atendente {
                            ultima_aceita = ultima_aceita.max(linha.seq_remetente);
                        } else if let Some((_, enviados, retidos)) = &mut retomada {
                            *enviados += 1;
                            retidos.push(DoBroker::Mensagem {
                                de: linha.autor.clone(),
                                texto: linha.texto.clone(),
                            });
                        }
                    }
                    Estado::EmConversa { parceiro, conversa }
                }
                EstadoSalvo::Parado => Estado::Pausado,
                // A customer in line, or one whose chat lost its other side.
                _ => Estado::Aguardando,
            };
            let papel = match papel {
                PapelSalvo::Cliente {
                    departamento,
                    chegada,
                    entrou_em_ms,
                } => {
                    maquina.proxima_chegada = maquina.proxima_chegada.max(chegada);
                    let linha = maquina
                        .departamentos
                        .entry(departamento.clone())
                        .or_default();
                    if estado == Estado::Aguardando {
                        let indice = linha.fila_clientes.partition_point(|e| e.0 < chegada);
                        linha.fila_clientes.insert(indice, (chegada, id));
                        maquina.departamentos_alterados.insert(departamento.clone());
                    }
                    PapelSessao::Cliente {
                        departamento,
                        chegada,
                        entrou_em: Duration::from_millis(entrou_em_ms),
                        posicao_informada: 0,
                    }
                }
                PapelSalvo::Atendente {
                    departamentos,
                    pausado,
                } => {
                    maquina.nomes_atendentes.insert(nome.to_lowercase());
                    for departamento in &departamentos {
                        let linha = maquina
                            .departamentos
                            .entry(departamento.clone())
                            .or_default();
                        linha.atendentes.insert(id);
                    }
                    PapelSessao::Atendente {
                        departamentos,
                        pausado,
                        espera_informada: 0,
                    }
                }
            };
            let estado = match (&papel, estado) {
                (PapelSessao::Atendente { .. }, Estado::Aguardando) => Estado::Pausado,
                (_, estado) => estado,
            };
            let retomada = retomada.map(|(ficha, enviados, retidos)| {
                maquina.fichas.insert(ficha, id);
                maquina.prazos.push_back((prazo, id));
                Box::new(Retomavel::restaurada(ficha, enviados, retidos, prazo))
            });
            maquina.sessoes.insert(
                id,
                Sessao {
                    nome,
                    papel,
                    estado,
                    ultima_aceita,
                    linhas: vistas,
                    retomada,
                },
            );
        }
        maquina
    }

    /// Brings back a tombstone from its snapshot, until `prazo`.
    fn restaurar_lapide(&mut self, salva: Instantaneo, prazo: Duration) {
        let Some((ficha, enviados, retidos)) = salva.retomada else {
            return;
        };
        self.fichas.insert(ficha, salva.sessao);
        self.prazos.push_back((prazo, salva.sessao));
        self.lapides.insert(
            salva.sessao,
            Box::new(Retomavel::restaurada(ficha, enviados, retidos, prazo)),
        );
    }
}

/// A session's snapshot.
fn instantaneo(id: SessaoId, sessao: &Sessao) -> Instantaneo {
    let papel = match &sessao.papel {
        PapelSessao::Cliente {
            departamento,
            chegada,
            entrou_em,
            ..
        } => PapelSalvo::Cliente {
            departamento: departamento.clone(),
            chegada: *chegada,
            entrou_em_ms: u64::try_from(entrou_em.as_millis()).unwrap_or(u64::MAX),
        },
        PapelSessao::Atendente {
            departamentos,
            pausado,
            ..
        } => PapelSalvo::Atendente {
            departamentos: departamentos.clone(),
            pausado: *pausado,
        },
    };
    let estado = match sessao.estado {
        Estado::Aguardando => EstadoSalvo::Aguardando,
        Estado::Livre { .. } | Estado::Pausado => EstadoSalvo::Parado,
        Estado::EmConversa { parceiro, conversa } => EstadoSalvo::EmConversa {
            parceiro,
            conversa,
            linhas: sessao.linhas,
        },
    };
    Instantaneo {
        sessao: id,
        nome: sessao.nome.clone(),
        papel,
        estado,
        ultima_aceita: sessao.ultima_aceita,
        retomada: sessao.retomada.as_ref().map(|r| r.salvar()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proto::{Apresentacao, ParaBroker};

    use super::*;
    use crate::matchmaking::{Evento, Situacao};

    fn parametros() -> Parametros {
        Parametros {
            tolerancia: Duration::from_secs(60),
            diario: true,
            ..Parametros::default()
        }
    }

    /// Applies events, keeping the latest snapshot of every session as the store would.
    fn aplicar(
        maquina: &mut Matchmaker,
        diario: &mut BTreeMap<SessaoId, Instantaneo>,
        evento: Evento,
    ) {
        for efeito in maquina.aplicar(evento, Duration::from_secs(1)) {
            match efeito {
                Efeito::Registrar(Registro::Sessao(salva)) => {
                    diario.insert(salva.sessao, *salva);
                }
                Efeito::Registrar(Registro::SessaoSaiu { sessao }) => {
                    diario.remove(&sessao);
                }
                _ => {}
            }
        }
    }

    fn entrou(sessao: SessaoId, apresentacao: Apresentacao) -> Evento {
        Evento::Entrou {
            sessao,
            apresentacao,
            ficha: [sessao as u8; 16],
        }
    }

    #[test]
    fn o_diario_restaura_filas_conversas_e_pausas() {
        let mut maquina = Matchmaker::com_parametros(parametros());
        let mut diario = BTreeMap::new();
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        let zeca = Apresentacao::atendente("Zeca", vec!["vendas".into()], "t");
        aplicar(&mut maquina, &mut diario, entrou(1, yuri));
        aplicar(&mut maquina, &mut diario, entrou(2, zeca));
        let pausar = Evento::Recebeu {
            sessao: 2,
            quadro: ParaBroker::Pausar { seq: 0 },
        };
        aplicar(&mut maquina, &mut diario, pausar);
        for (sessao, nome) in [(10, "Ana"), (11, "Bia"), (12, "Caio")] {
            let cliente = Apresentacao::cliente(nome, "geral");
            aplicar(&mut maquina, &mut diario, entrou(sessao, cliente));
        }
        // Bia leaves the line; Ana and Yuri chat.
        let sair = Evento::Recebeu {
            sessao: 11,
            quadro: ParaBroker::Sair { seq: 0 },
        };
        aplicar(&mut maquina, &mut diario, sair);
        let linha = Evento::Recebeu {
            sessao: 10,
            quadro: ParaBroker::Mensagem {
                conversa: 1,
                texto: "oi".into(),
                seq: 1,
            },
        };
        aplicar(&mut maquina, &mut diario, linha);
        assert_eq!(diario.keys().copied().collect::<Vec<_>>(), [1, 2, 10, 12]);

        assert_eq!(diario[&10].ultima_aceita, 0);
        let agora = Duration::from_secs(5);
        let salvas = diario.into_values().collect();
        // The line wrote no snapshot: the history has it, and the restore reads it back.
        let linhas = [LinhaSalva {
            conversa: 1,
            seq: 1,
            do_atendente: false,
            autor: "Ana".into(),
            texto: "oi".into(),
            seq_remetente: 1,
        }];
        let restaurada = Matchmaker::restaurar(parametros(), salvas, &linhas, agora);
        restaurada.checar_invariantes().expect("invariants hold");
        assert_eq!(
            restaurada.situacao(10),
            Some(Situacao::EmConversa {
                parceiro: 1,
                conversa: 1
            })
        );
        assert!(matches!(
            restaurada.situacao(12),
            Some(Situacao::Aguardando { posicao: 1, .. })
        ));
        assert_eq!(restaurada.situacao(2), Some(Situacao::Pausado));
        assert_eq!(restaurada.situacao(11), None);
        for sessao in [1, 2, 10, 12] {
            assert!(restaurada.suspensa(sessao), "{sessao} waits for its peer");
        }
        // Yuri's kept frames (his `Conectado` and Ana's line) are there for his resume.
        let yuri = restaurada.sessoes.get(&1).and_then(|s| s.retomada.as_ref());
        assert_eq!(yuri.map(|r| r.salvar().1), Some(2));
        assert_eq!(restaurada.sessoes[&10].ultima_aceita, 1);
    }
}
