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

use proto::{DoBroker, EstadoAtendente, Fala, Ficha, SessaoId};
use serde::{Deserialize, Serialize};

use super::conversas::Conversa;
use super::estimativas::AvisoFila;
use super::sessoes::{Estado, PapelSessao, Recado, Retomavel, Sessao, em_ms};
use super::{Efeito, Matchmaker, Parametros, Registro};

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
        /// A chat handed to its line that waits with it: (conversation, lines so far).
        transferida: Option<(u64, u64)>,
        /// The lines it wrote while waiting: (text, when in milliseconds, like `entrou_em_ms`,
        /// its `seq`).
        na_espera: Vec<(String, u64, u64)>,
    },
    /// An agent.
    Atendente {
        /// The departments it serves.
        departamentos: Vec<String>,
        /// How many chats it takes at once.
        capacidade: usize,
        /// Whether it asked to pause.
        pausado: bool,
    },
}

/// Where a session is, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum EstadoSalvo {
    /// A customer in line.
    Aguardando,
    /// An agent in no chat (free, paused or suspended).
    Parado,
    /// A customer in a chat.
    EmConversa(ConversaSalva),
    /// A tombstone: a customer the broker ended while its connection was down, kept only so
    /// that its resume still gets the end (its name and role are not kept).
    Encerrada,
    /// An agent in one or more chats.
    Atendendo(Vec<ConversaSalva>),
}

/// One chat of a session, as the journal keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ConversaSalva {
    /// The other side.
    parceiro: SessaoId,
    /// The conversation.
    conversa: u64,
    /// Lines relayed in it so far (both ways), when the snapshot was taken.
    linhas: u64,
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
    /// The chats the snapshot holds.
    fn conversas_salvas(&self) -> &[ConversaSalva] {
        match &self.estado {
            EstadoSalvo::EmConversa(conversa) => std::slice::from_ref(conversa),
            EstadoSalvo::Atendendo(conversas) => conversas,
            _ => &[],
        }
    }

    /// Moves the snapshot's times by `ms` milliseconds (saturating at zero): the store turns
    /// the broker's uptime into time since the epoch when it writes a snapshot, and back into
    /// the new broker's uptime when it reads one.
    pub fn deslocar(&mut self, ms: i64) {
        if let PapelSalvo::Cliente {
            entrou_em_ms,
            na_espera,
            ..
        } = &mut self.papel
        {
            *entrou_em_ms = entrou_em_ms.saturating_add_signed(ms);
            for (_, em_ms, _) in na_espera {
                *em_ms = em_ms.saturating_add_signed(ms);
            }
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
                transferida: None,
                na_espera: Vec::new(),
            },
            estado: EstadoSalvo::Encerrada,
            ultima_aceita: 0,
            retomada: Some(lapide.salvar()),
        }
    }
}

impl Matchmaker {
    /// Appends to `efeitos` the journal records of the sessions its frames and closes touch, and
    /// of those a rule changed without telling them.
    pub(super) fn anotar(&mut self, efeitos: &mut Vec<Efeito>) {
        let mudadas = std::mem::take(&mut self.mudadas_em_silencio);
        if !self.parametros.diario {
            return;
        }
        let tocadas: BTreeSet<SessaoId> =
            efeitos.iter().filter_map(tocada).chain(mudadas).collect();
        for id in tocadas {
            let registro = match (self.sessoes.get(id), self.sessoes.lapide(id)) {
                // A session waiting for its rating is not kept: a broker restarted then has no
                // rating to ask for, and the resume is refused.
                (Some(sessao), _) if matches!(sessao.estado, Estado::Avaliando { .. }) => {
                    Registro::SessaoSaiu { sessao: id }
                }
                (Some(sessao), _) => Registro::Sessao(Box::new(self.instantaneo(id, sessao))),
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
    /// missing) are mended: the customer goes back to its line, the agent loses that chat.
    pub fn restaurar(
        parametros: Parametros,
        salvas: Vec<Instantaneo>,
        linhas: &[LinhaSalva],
        agora: Duration,
    ) -> Self {
        let prazo = agora.saturating_add(parametros.tolerancia);
        let mut maquina = Matchmaker::com_parametros(parametros);
        let lados: BTreeSet<(SessaoId, SessaoId, u64)> = salvas
            .iter()
            .flat_map(|salva| {
                salva
                    .conversas_salvas()
                    .iter()
                    .map(|c| (salva.sessao, c.parceiro, c.conversa))
                    .collect::<Vec<_>>()
            })
            .collect();
        for mut salva in salvas {
            let retomada = salva.retomada.take().map(|(ficha, enviados, retidos)| {
                Retomavel::restaurada(ficha, enviados, retidos, prazo)
            });
            if salva.estado == EstadoSalvo::Encerrada {
                if let Some(lapide) = retomada {
                    maquina.sessoes.restaurar_lapide(salva.sessao, lapide);
                }
                continue;
            }
            let id = salva.sessao;
            let inteiras: Vec<ConversaSalva> = salva
                .conversas_salvas()
                .iter()
                .filter(|c| lados.contains(&(c.parceiro, id, c.conversa)))
                .copied()
                .collect();
            maquina.restaurar_sessao(salva, &inteiras, retomada, linhas, agora);
        }
        maquina
    }

    /// Brings back one session from its snapshot, with those of its chats whose other side is
    /// in the journal too (`inteiras`), replaying the lines they had after the snapshot.
    fn restaurar_sessao(
        &mut self,
        salva: Instantaneo,
        inteiras: &[ConversaSalva],
        mut retomada: Option<Retomavel>,
        linhas: &[LinhaSalva],
        agora: Duration,
    ) {
        let Instantaneo {
            sessao: id,
            nome,
            papel,
            mut ultima_aceita,
            ..
        } = salva;
        let atendente = matches!(papel, PapelSalvo::Atendente { .. });
        for salva in inteiras {
            let mut repor = Reposicao {
                atendente,
                ultima_aceita: &mut ultima_aceita,
                retomada: retomada.as_mut(),
            };
            let vistas = repor.linhas_depois(salva, linhas);
            let (cliente, atendente) = if atendente {
                (salva.parceiro, id)
            } else {
                (id, salva.parceiro)
            };
            // Answered if the agent sent any line of it the history kept.
            let respondida = linhas_da(salva.conversa, linhas).any(|linha| linha.do_atendente);
            let mut aberta = Conversa::nova(cliente, atendente, agora);
            aberta.linhas = vistas;
            aberta.respondida = respondida;
            self.conversas
                .guardar_em(&mut aberta, falas_de(salva.conversa, linhas));
            let prazo = self.prazo_de_resposta(agora);
            self.conversas.reabrir(salva.conversa, aberta, prazo);
        }
        // A chat handed to the customer's line waits with it.
        let transferida = match &papel {
            PapelSalvo::Cliente {
                transferida: Some((conversa, ja_vistas)),
                ..
            } if inteiras.is_empty() => {
                let salva = ConversaSalva {
                    parceiro: 0,
                    conversa: *conversa,
                    linhas: *ja_vistas,
                };
                let mut repor = Reposicao {
                    atendente: false,
                    ultima_aceita: &mut ultima_aceita,
                    retomada: retomada.as_mut(),
                };
                let mut aberta = Conversa::nova(id, 0, agora);
                aberta.linhas = repor.linhas_depois(&salva, linhas);
                self.conversas
                    .guardar_em(&mut aberta, falas_de(*conversa, linhas));
                self.conversas.reservar(*conversa);
                Some(Box::new((*conversa, aberta)))
            }
            _ => None,
        };
        let conversas: Vec<u64> = inteiras.iter().map(|c| c.conversa).collect();
        let estado = match conversas.first() {
            // An agent stops (every restored session is suspended).
            _ if atendente => Estado::Parado,
            Some(&conversa) => Estado::EmConversa { conversa },
            // A customer in line, or one whose chat lost its other side.
            None => Estado::Aguardando,
        };
        let papel = self.restaurar_papel(id, papel, (estado, agora), conversas, transferida);
        let sessao = Sessao::restaurada(nome, papel, estado, ultima_aceita, retomada);
        self.sessoes.restaurar(id, sessao);
    }

    /// Brings back a session's role, putting a waiting customer in its line and an agent among
    /// those who serve its departments, with its chats.
    fn restaurar_papel(
        &mut self,
        id: SessaoId,
        papel: PapelSalvo,
        (estado, agora): (Estado, Duration),
        conversas: Vec<u64>,
        transferida: Option<Box<(u64, Conversa)>>,
    ) -> PapelSessao {
        match papel {
            PapelSalvo::Cliente {
                departamento,
                chegada,
                entrou_em_ms,
                na_espera,
                ..
            } => {
                self.ultima_chegada = self.ultima_chegada.max(chegada);
                if estado == Estado::Aguardando {
                    self.filas.enfileirar(&departamento, chegada, id);
                }
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    entrou_em_ms,
                    informada: AvisoFila::default(),
                    na_espera: na_espera
                        .into_iter()
                        .map(|(texto, em_ms, seq)| Recado {
                            texto,
                            em: Duration::from_millis(em_ms),
                            seq,
                        })
                        .collect(),
                    transferida,
                    espera_aberta: false,
                }
            }
            PapelSalvo::Atendente {
                departamentos,
                capacidade,
                pausado,
            } => {
                self.filas.servir(&departamentos, id);
                PapelSessao::Atendente {
                    departamentos,
                    capacidade,
                    conversas,
                    pausado,
                    espera_informada: 0,
                    estado_desde: (EstadoAtendente::Ausente, agora),
                }
            }
        }
    }

    /// A session's snapshot.
    fn instantaneo(&self, id: SessaoId, sessao: &Sessao) -> Instantaneo {
        let papel = match &sessao.papel {
            PapelSessao::Cliente {
                departamento,
                chegada,
                entrou_em_ms,
                transferida,
                na_espera,
                ..
            } => PapelSalvo::Cliente {
                departamento: departamento.clone(),
                chegada: *chegada,
                entrou_em_ms: *entrou_em_ms,
                transferida: transferida.as_ref().map(|t| (t.0, t.1.linhas)),
                na_espera: na_espera
                    .iter()
                    .map(|r| (r.texto.clone(), em_ms(r.em), r.seq))
                    .collect(),
            },
            PapelSessao::Atendente {
                departamentos,
                capacidade,
                pausado,
                ..
            } => PapelSalvo::Atendente {
                departamentos: departamentos.clone(),
                capacidade: *capacidade,
                pausado: *pausado,
            },
        };
        let conversas: Vec<ConversaSalva> = sessao
            .conversas()
            .into_iter()
            .filter_map(|conversa| {
                let aberta = self.conversas.get(conversa)?;
                Some(ConversaSalva {
                    parceiro: aberta.parceiro_de(id)?,
                    conversa,
                    linhas: aberta.linhas,
                })
            })
            .collect();
        let estado = match (&sessao.papel, sessao.estado) {
            (PapelSessao::Cliente { .. }, Estado::Aguardando) => EstadoSalvo::Aguardando,
            (PapelSessao::Cliente { .. }, _) => match conversas.first() {
                Some(&conversa) => EstadoSalvo::EmConversa(conversa),
                None => EstadoSalvo::Aguardando,
            },
            (PapelSessao::Atendente { .. }, _) if conversas.is_empty() => EstadoSalvo::Parado,
            (PapelSessao::Atendente { .. }, _) => EstadoSalvo::Atendendo(conversas),
        };
        Instantaneo {
            sessao: id,
            nome: sessao.nome().to_owned(),
            papel,
            estado,
            ultima_aceita: sessao.ultima_aceita,
            retomada: sessao.retomada().map(Retomavel::salvar),
        }
    }
}

/// What replaying a restored session's lines updates: the highest `seq` it had sent, and the
/// frames kept for its resume.
struct Reposicao<'a> {
    /// Whether the session is the agent of its chats.
    atendente: bool,
    /// The highest `seq` handled from it.
    ultima_aceita: &'a mut u64,
    /// Its resume bookkeeping.
    retomada: Option<&'a mut Retomavel>,
}

impl Reposicao<'_> {
    /// Replays the lines `conversa` had after its snapshot: the session's own raise the `seq`
    /// handled, the other side's are kept for its resume. Returns the lines the chat has now.
    fn linhas_depois(&mut self, conversa: &ConversaSalva, linhas: &[LinhaSalva]) -> u64 {
        let depois =
            linhas_da(conversa.conversa, linhas).filter(|linha| linha.seq > conversa.linhas);
        let mut vistas = conversa.linhas;
        for linha in depois {
            vistas = vistas.max(linha.seq);
            if linha.do_atendente == self.atendente {
                *self.ultima_aceita = (*self.ultima_aceita).max(linha.seq_remetente);
            } else if let Some(retomada) = self.retomada.as_deref_mut() {
                retomada.reter(&DoBroker::Mensagem {
                    conversa: conversa.conversa,
                    de: linha.autor.clone(),
                    texto: linha.texto.clone(),
                });
            }
        }
        vistas
    }
}

/// The latest lines of one conversation, as an agent it is handed to sees them.
fn falas_de(conversa: u64, linhas: &[LinhaSalva]) -> impl Iterator<Item = Fala> + '_ {
    linhas_da(conversa, linhas).map(|linha| Fala {
        de: linha.autor.clone(),
        do_atendente: linha.do_atendente,
        texto: linha.texto.clone(),
    })
}

/// The stored lines of one conversation.
fn linhas_da(conversa: u64, linhas: &[LinhaSalva]) -> impl Iterator<Item = &LinhaSalva> {
    linhas
        .iter()
        .filter(move |linha| linha.conversa == conversa)
}

/// The session an effect tells of a change to, if it does. Positions, waiting counts and
/// errors change nothing a snapshot holds (a place in line is kept as the arrival number):
/// leaving them out keeps a line's every move from rewriting every customer in it. Chat lines
/// and their confirmations are rebuilt from the history instead.
fn tocada(efeito: &Efeito) -> Option<SessaoId> {
    match efeito {
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
        assert_eq!(restaurada.situacao(2), Some(Situacao::Parado));
        assert_eq!(restaurada.situacao(11), None);
        for sessao in [1, 2, 10, 12] {
            assert!(restaurada.suspensa(sessao), "{sessao} waits for its peer");
        }
        // Yuri's kept frames (his `Conectado` and Ana's line) are there for his resume.
        assert_eq!(restaurada.numeracao(1), Some((0, Some(2))));
        assert_eq!(restaurada.numeracao(10).map(|n| n.0), Some(1));
    }
}
