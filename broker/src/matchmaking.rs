//! The matchmaking state machine: lines, pairs and chat routing, with no I/O at all.
//!
//! Every input is an [`Evento`]; applying it to the [`Matchmaker`] returns the [`Efeito`]s it
//! causes: frames to send to a session, sessions to close, records for the history and the
//! journal. The actor turns those into channel sends and writes; the property tests compare
//! them with a reference model; a benchmark can time them alone. Time enters only as an argument
//! (the broker's uptime when an event happens), so the machine stays deterministic.
//!
//! # Rooms
//!
//! The state is split by owner; each room alone changes its data and keeps its indexes right:
//!
//! - [`filas`]: per department, the customers waiting in arrival order, the free agents in idle
//!   order, the agents serving it, and the positions that changed since the last tick;
//! - [`sessoes`]: every session with its role and state, agents' names, resume secrets,
//!   tombstones and grace deadlines;
//! - [`conversas`]: the open chats, who is in each, how many lines each has had;
//! - [`estimativas`]: the departments' recent handling times, and what each line was last told
//!   from them;
//! - `regras`, `retomada` and `transferencia`: the rules, which move sessions between the rooms;
//! - `medidas`: what the supervisor's figures count ([`Medida`]), as the rules report it;
//! - `painel`: what a supervisor sees of the lines and the agents ([`Matchmaker::painel`]);
//! - `diario`: the journal a crashed broker comes back from;
//! - `invariantes`: what must hold after every event, room by room and across them.
//!
//! # The rules
//!
//! 1. **Joining.** A customer joins its department's line by its arrival number; an agent
//!    joins the free lines of every department it serves ([`Matchmaker::colocar_cliente`],
//!    [`Matchmaker::liberar_atendente`]).
//! 2. **Work conservation.** After every event no department has both a waiting customer and a
//!    free agent ([`filas::Filas::checar`]).
//! 3. **Who is paired.** An agent who becomes free takes the customer waiting longest among
//!    its departments ([`filas::Filas::chamar`]); an arriving customer gets the free agent of its
//!    department idle the longest ([`filas::Filas::primeiro_livre`]).
//! 4. **A new chat.** Both sides get `Conectado` with the other's name, the conversation's id,
//!    the department and how long the customer waited ([`Matchmaker::parear`]).
//! 5. **Positions.** A customer learns its place at once when it joins; later changes go out on
//!    the next [`Matchmaker::tick`], the latest value per customer. Agents learn how many wait in
//!    their departments the same way ([`Matchmaker::informar_espera`]).
//! 6. **Chat routing.** A line goes to the other side of its conversation only, in order; a
//!    customer's line for conversation 0 goes to the one chat it is in. A line from an agent in
//!    no chat, or for a chat that ended, gets `SemConversa` and the connection stays open; a
//!    waiting customer's line is kept for its agent (rule 22) ([`Matchmaker::repassar`]).
//! 7. **The customer leaves** (says so or drops): the agent gets `Fim` with the reason and is
//!    free again ([`Matchmaker::remover`]).
//! 8. **The agent ends the chat:** the customer gets `Fim` and is asked to rate it (rule 23),
//!    or its session ends; the agent is free again ([`Matchmaker::encerrar_conversa`]).
//! 9. **The agent leaves mid-chat:** the customer gets `Fim` and goes back to its line at the
//!    place its arrival gives it, ahead of everyone who came after ([`Matchmaker::remover`]).
//! 10. **Names.** Trimmed, non-empty, within the limit, no control characters; two agents never
//!     share a name, in any case ([`Matchmaker::entrar`], [`sessoes::Sessoes::nome_em_uso`]).
//! 11. **A full line.** A department with [`Parametros::fila_maxima`] customers waiting refuses
//!     one more with `FilaCheia`; a customer going back by rule 9 is always taken
//!     ([`Matchmaker::validar_papel`]).
//! 12. **Pause.** A paused agent leaves the free lines and gets no customer until it comes back;
//!     a chat in course goes on, and the pause takes effect when it ends
//!     ([`Matchmaker::pausar`], [`Matchmaker::voltar`], [`Matchmaker::liberar_atendente`]).
//! 13. **Grace.** With [`Parametros::tolerancia`], a session whose connection drops is
//!     suspended: a waiting customer keeps its place (and may still be given an agent, who is
//!     told its partner is away), a chat stays open and the partner is told, a free agent stops.
//!     A resume within the grace period takes the session back with every frame it missed;
//!     otherwise rules 7 and 9 apply when it ends ([`Matchmaker::suspender`],
//!     [`Matchmaker::retomar`], [`Matchmaker::expirar`]).
//! 14. **Tombstones.** A suspended customer whose agent ends the chat is kept, with its last
//!     frames, until its grace deadline, so its resume still gets the `Fim`
//!     ([`sessoes::Sessoes::sepultar`], [`Matchmaker::entregar_lapide`]).
//! 15. **A replaced agent.** An agent who logs in under the name of a suspended agent replaces
//!     it: the old session counts as gone (rule 9 for its customer)
//!     ([`Matchmaker::liberar_nome_de_suspenso`]).
//! 16. **Numbered input.** Lines and commands carry a `seq`; one at or below the highest handled
//!     from its session is confirmed again but never carried out twice
//!     ([`Matchmaker::receber_numerado`]).
//! 17. **Kept output.** Numbered frames to a resumable session are counted and kept until its
//!     peer acknowledges them (`Recebidos`), so a resume can replay what was lost
//!     ([`sessoes::Sessoes::reter`]).
//! 18. **Unanswered chats.** With [`Parametros::prazo_resposta`], an agent that sends no line in
//!     a new chat within that time loses the customer at the next tick: the chat ends for the
//!     agent (`Fim(SemResposta)`), the agent is paused (`Pausa`) until it comes back, and the
//!     customer, told nothing but its place, goes back to its line at the place its arrival
//!     gives it, carrying the chat to the next agent as a transfer to its department does
//!     (rule 19: same id, and the lines so far for the new agent)
//!     ([`Matchmaker::cobrar_respostas`]). A chat restored after a crash without an answer
//!     gets the whole deadline again.
//! 19. **Transfers.** An agent hands one of its chats to a colleague, who must be connected,
//!     not paused and have a free place (else `TransferenciaRecusada`, and the chat goes on),
//!     or to a department, whose line the customer joins at the place its first arrival gives
//!     it. The chat keeps its id, its lines and its count; the first agent gets
//!     `Fim(Transferido)` and a free place; the customer gets `Transferido`, then the new
//!     agent's `Conectado`; the new agent gets the lines so far (`Transcricao`) and the whole
//!     answer deadline (rule 18) ([`Matchmaker::transferir`]).
//! 20. **What a waiting customer is told.** `Fila` carries, with the place, how many agents of
//!     the department are connected and not paused, and an estimate of the wait from their
//!     places and the department's recent handling times ([`estimativas`]); it goes out at
//!     once on joining and, at the next tick, whenever any of the three changed
//!     ([`Matchmaker::informar_fila`], [`Matchmaker::tick`]). An agent's chat counts towards
//!     the handling time when the agent lets it go while staying (it ends, is transferred or
//!     goes unanswered; [`Matchmaker::anotar_atendimento`]).
//! 21. **Known departments.** With [`Parametros::departamentos`], a customer or an agent
//!     naming another department is refused with the list (`Departamentos`, then
//!     `DepartamentoInvalido`), and so is a transfer to one; every new session gets the list
//!     after `BemVindo` ([`Matchmaker::validar_papel`], [`Matchmaker::entrar`]).
//! 22. **The first message.** A waiting customer's lines are kept (up to
//!     [`proto::NA_ESPERA_MAXIMO`], then `EsperaCheia`) and reach its agent right after
//!     `Conectado` as one `NaEspera`, becoming the chat's first lines
//!     ([`Matchmaker::guardar_na_espera`], [`Matchmaker::apresentar`]).
//! 23. **The rating.** With [`Parametros::prazo_avaliacao`], a customer whose agent ends the
//!     chat (rule 8) is asked to rate it (`Avaliacao`) instead of being let go: it may answer
//!     once with a grade of 1 to 5 (`Avaliar`, kept in the history) or leave, and its session
//!     then ends with `Fim` for no chat (also when its time runs out). A customer away when the
//!     chat ends is not asked: its session ends as it did before, with a tombstone (rule 14)
//!     ([`Matchmaker::pedir_avaliacao`], [`Matchmaker::avaliar`]).
//! 24. **What a supervisor counts.** A new customer's arrival is counted once, and so is the
//!     end of its first wait: its first agent (`Atendido`, with the wait) or its leaving the line
//!     before any (`Abandono`); going back to the line later counts nothing. Each counted wait,
//!     once over, is also a history record ([`Registro::FimDeEspera`]), whence the service-level
//!     report. Handing a chat over or losing it unanswered, and the handling times of rule 20,
//!     are counted too ([`Medida`], [`Matchmaker::contar_chegada`],
//!     [`Matchmaker::terminar_espera`]). The panel ([`Matchmaker::painel`]) shows each line and
//!     each agent, and since when each agent does what it does.
//!
//! With [`Parametros::diario`] the machine also writes down what a broker restarted after a
//! crash needs to come back with its sessions (see [`Matchmaker::restaurar`]).

mod avaliacao;
mod conversas;
mod diario;
pub mod estimativas;
mod filas;
mod informes;
mod invariantes;
mod medidas;
mod painel;
mod regras;
mod retomada;
mod sessoes;
mod transferencia;

pub use diario::{Instantaneo, LinhaSalva};
pub use sessoes::RETIDOS_MAXIMO;

use std::time::Duration;

use proto::validacao::{NOME_MAXIMO, TEXTO_MAXIMO};
use proto::{Apresentacao, DoBroker, Ficha, MotivoFim, ParaBroker, SessaoId};

use conversas::Conversas;
use estimativas::Estimativas;
use filas::Filas;
use sessoes::{Estado, Sessoes};

/// Something that happened to a session, as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evento {
    /// A connection completed its handshake (the protocol version is already checked).
    Entrou {
        /// The connection's id; never reused.
        sessao: SessaoId,
        /// What the peer said about itself.
        apresentacao: Apresentacao,
        /// A fresh random secret for the session, should it be new and resumable.
        ficha: Ficha,
    },
    /// A registered session sent a frame.
    Recebeu {
        /// Who sent it.
        sessao: SessaoId,
        /// What it sent.
        quadro: ParaBroker,
    },
    /// A session's connection was lost (or dropped by the broker as a slow consumer).
    Caiu {
        /// Whose connection.
        sessao: SessaoId,
    },
}

/// What the state machine asks of the outside world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Efeito {
    /// Keep something in the conversation history (only when [`Parametros::historico`]).
    Registrar(Registro),
    /// Look up the customer's earlier conversations in the history and send them to the agent
    /// `para` as `Anteriores` (only when [`Parametros::historico`]; after the `Registrar` of the
    /// chat's start, so the lookup can leave this chat out, and right after the agent's
    /// `Conectado`, where the answer belongs).
    ConsultarAnteriores {
        /// The agent.
        para: SessaoId,
        /// The customer's name.
        cliente: String,
        /// The chat that just started.
        conversa: u64,
    },
    /// Send a frame to a session.
    Enviar {
        /// The addressee.
        para: SessaoId,
        /// The frame.
        quadro: DoBroker,
    },
    /// The session is no longer known to the state machine: flush what was sent to it, then
    /// close its connection. Emitted exactly once for every session the machine lets go.
    Fechar {
        /// The session to close.
        sessao: SessaoId,
    },
    /// The session's connection is gone but the session waits for a resume (only when
    /// [`Parametros::tolerancia`] is set): let go of the connection, keep nothing else.
    Desligar {
        /// The suspended session.
        sessao: SessaoId,
    },
    /// The connection `conexao` now carries the session `sessao` (a resume): frames for the
    /// session go to it, and the connection that carried the session before, if any, closes.
    Retomar {
        /// The new connection's id.
        conexao: SessaoId,
        /// The session it resumes.
        sessao: SessaoId,
    },
    /// Send a frame to a session again, after a resume (it is already counted and kept).
    Reenviar {
        /// The addressee.
        para: SessaoId,
        /// The frame.
        quadro: DoBroker,
    },
}

/// What the conversation history keeps, as the state machine sees it happen. Times are the
/// broker's uptime, like the events'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registro {
    /// A chat started.
    Inicio {
        /// The conversation id.
        conversa: u64,
        /// The customer's department.
        departamento: String,
        /// The customer's name.
        cliente: String,
        /// The agent's name.
        atendente: String,
        /// When the customer joined the line.
        entrou_em: Duration,
        /// When the chat started.
        conectada_em: Duration,
    },
    /// A chat line was relayed.
    Mensagem {
        /// The conversation id.
        conversa: u64,
        /// The sender's number for the line (`Mensagem.seq`; 0: unnumbered).
        seq: u64,
        /// Whether the agent sent it (otherwise the customer).
        do_atendente: bool,
        /// The sender's name.
        autor: String,
        /// The text.
        texto: String,
        /// When it was relayed.
        em: Duration,
    },
    /// A chat was handed over (rule 19), or taken from an agent who did not answer it in time
    /// and sent back to the customer's line (rule 18).
    Transferencia {
        /// The conversation id.
        conversa: u64,
        /// The agent who handed it over (or did not answer).
        de: String,
        /// The department or agent it went to.
        para: String,
        /// Whether the agent did not answer in time (rule 18) rather than hand it over.
        sem_resposta: bool,
        /// When.
        em: Duration,
    },
    /// An agent took over a chat handed to it or to its line.
    Assumida {
        /// The conversation id.
        conversa: u64,
        /// The agent.
        atendente: String,
        /// When.
        em: Duration,
    },
    /// A chat ended.
    Fim {
        /// The conversation id.
        conversa: u64,
        /// Why.
        motivo: MotivoFim,
        /// When.
        em: Duration,
    },
    /// The customer rated a chat its agent ended.
    Avaliacao {
        /// The conversation id.
        conversa: u64,
        /// 1 to 5.
        nota: u8,
        /// When.
        em: Duration,
    },
    /// A customer's first wait ended: an agent answered it, or it left the line first. (A
    /// customer restored after a crash, or still waiting when the broker stops, has none.)
    FimDeEspera {
        /// The customer's department.
        departamento: String,
        /// The customer's name.
        cliente: String,
        /// When it joined the line.
        entrou_em: Duration,
        /// When an agent answered it, or it left.
        terminou_em: Duration,
        /// Whether an agent answered it (otherwise it left first).
        atendida: bool,
    },
    /// (Journal) a session as it is now.
    Sessao(Box<Instantaneo>),
    /// (Journal) a session is gone.
    SessaoSaiu {
        /// Its id.
        sessao: SessaoId,
    },
    /// (Journal) the broker let go of every session (a graceful shutdown).
    SemSessoes,
}

/// What a supervisor's figures count (the broker's metrics and its panel's day), as the state
/// machine sees it happen; collected only with [`Parametros::medidas`] and taken with
/// [`Matchmaker::tirar_medidas`]. Every `Chegada` is followed, once, by its `Atendido` or its
/// `Abandono`, unless the customer is still waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medida {
    /// A new customer joined its department's line (or went straight to an agent).
    Chegada {
        /// Its department.
        departamento: String,
    },
    /// A customer counted by `Chegada` got its first agent, after waiting `espera`.
    Atendido {
        /// Its department.
        departamento: String,
        /// How long it waited.
        espera: Duration,
    },
    /// A customer counted by `Chegada` left (or its connection and grace period ran out)
    /// before any agent answered it, after waiting `espera`.
    Abandono {
        /// Its department.
        departamento: String,
        /// How long it waited.
        espera: Duration,
    },
    /// An agent let go of a chat while staying (it ended, was handed over or went
    /// unanswered), after holding it for `duracao` (rule 20's handling time).
    Atendimento {
        /// The customer's department.
        departamento: String,
        /// How long the agent held it.
        duracao: Duration,
    },
    /// A chat was handed over (rule 19), or taken from an agent who did not answer it (rule
    /// 18, `sem_resposta`).
    Transferencia {
        /// The customer's department before the move.
        departamento: String,
        /// Whether the agent did not answer in time.
        sem_resposta: bool,
    },
}

/// Where a session stands, as seen from outside the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situacao<'a> {
    /// A customer waiting in line.
    Aguardando {
        /// The department whose line it is in.
        departamento: &'a str,
        /// Its true 1-based position in that line.
        posicao: usize,
    },
    /// An agent with room for another customer (it may be in chats already).
    Livre,
    /// An agent with all its places taken.
    Lotado,
    /// An agent in no line and in no chat: it paused (and gets no customer until it comes
    /// back), or its connection is gone and it waits for a resume.
    Parado,
    /// A customer in a chat.
    EmConversa {
        /// The other side of the chat.
        parceiro: SessaoId,
        /// The conversation's id.
        conversa: u64,
    },
    /// A customer whose agent ended its chat, asked to rate it.
    Avaliando {
        /// The chat that ended.
        conversa: u64,
    },
}

/// The limits the state machine enforces and announces, from the broker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parametros {
    /// Most customers waiting in one department; one more gets `FilaCheia`. A customer going
    /// back to its line because its agent left is always taken.
    pub fila_maxima: usize,
    /// Most characters in a name or department name.
    pub nome_maximo: usize,
    /// Most bytes in a chat text.
    pub texto_maximo: usize,
    /// The heartbeat interval announced in `BemVindo`, in milliseconds.
    pub batimento_ms: u64,
    /// Whether to emit [`Efeito::Registrar`] for the conversation history.
    pub historico: bool,
    /// The highest conversation id already used (kept in the history): new conversations are
    /// numbered after it, so ids stay unique across restarts.
    pub ultima_conversa: u64,
    /// How long a session whose connection dropped waits to be resumed before the drop counts
    /// as leaving (rules 7 and 9). Zero: sessions are never suspended nor resumed.
    pub tolerancia: Duration,
    /// Whether to emit journal records ([`Registro::Sessao`]) so the sessions survive a crash.
    pub diario: bool,
    /// The rate (frames a second) and burst announced in `BemVindo`; the connections enforce it.
    pub ritmo: (u32, u32),
    /// Most chats an agent is given at once, whatever it asks for.
    pub capacidade_maxima: usize,
    /// How long an agent has to send its first line in a new chat before the customer goes to
    /// another agent (rule 18). Zero: no deadline.
    pub prazo_resposta: Duration,
    /// The departments served, normalized (rule 21); empty: any valid name is a department.
    pub departamentos: Vec<String>,
    /// How long a customer whose agent ended the chat has to rate it (rule 23). Zero: no
    /// rating is asked, and the customer's session ends with the chat.
    pub prazo_avaliacao: Duration,
    /// Whether to collect the [`Medida`]s a supervisor's figures come from.
    pub medidas: bool,
}

impl Default for Parametros {
    fn default() -> Self {
        Parametros {
            fila_maxima: 10_000,
            nome_maximo: NOME_MAXIMO,
            texto_maximo: TEXTO_MAXIMO,
            batimento_ms: 15_000,
            historico: false,
            ultima_conversa: 0,
            tolerancia: Duration::ZERO,
            diario: false,
            ritmo: (10, 20),
            capacidade_maxima: usize::from(proto::CAPACIDADE_MAXIMA),
            prazo_resposta: Duration::ZERO,
            departamentos: Vec::new(),
            prazo_avaliacao: Duration::ZERO,
            medidas: false,
        }
    }
}

/// The matchmaking state: every session, every line, every chat.
#[derive(Debug)]
pub struct Matchmaker {
    /// The limits in force.
    parametros: Parametros,
    /// The lines of every department.
    filas: Filas,
    /// Every session and its indexes.
    sessoes: Sessoes,
    /// The open chats.
    conversas: Conversas,
    /// Handling times, and what the lines were last told (rule 20).
    estimativas: Estimativas,
    /// The last customer arrival number given (orders customers).
    ultima_chegada: u64,
    /// The last idle number given (orders free agents).
    ultimo_ocio: u64,
    /// Sessions an event changed without sending them a frame that says so (a customer whose
    /// agent did not answer is only told its place): the journal must write them down anyway.
    mudadas_em_silencio: Vec<SessaoId>,
    /// What happened for the supervisor's figures, since they were last taken.
    medidas: Vec<Medida>,
}

impl Default for Matchmaker {
    fn default() -> Self {
        Self::new()
    }
}

impl Matchmaker {
    /// An empty broker with the default limits.
    pub fn new() -> Self {
        Self::com_parametros(Parametros::default())
    }

    /// An empty broker with the given limits.
    pub fn com_parametros(parametros: Parametros) -> Self {
        Matchmaker {
            // A transcript must fit in a frame, as one chat text does with its sender's name.
            conversas: Conversas::depois_de(parametros.ultima_conversa, parametros.texto_maximo),
            parametros,
            filas: Filas::default(),
            sessoes: Sessoes::default(),
            estimativas: Estimativas::default(),
            ultima_chegada: 0,
            ultimo_ocio: 0,
            mudadas_em_silencio: Vec::new(),
            medidas: Vec::new(),
        }
    }

    /// Applies one event, which happened at `agora` (the broker's uptime), and returns its
    /// effects, in the order they must happen.
    pub fn aplicar(&mut self, evento: Evento, agora: Duration) -> Vec<Efeito> {
        let mut efeitos = Vec::new();
        match evento {
            Evento::Entrou {
                sessao,
                apresentacao,
                ficha,
            } => match apresentacao.retomar.clone() {
                Some(pedido) => self.retomar(sessao, &apresentacao, &pedido, agora, &mut efeitos),
                None => self.entrar(sessao, apresentacao, ficha, agora, &mut efeitos),
            },
            Evento::Recebeu {
                sessao,
                quadro: ParaBroker::Recebidos { total },
            } => self.confirmar_recebidos(sessao, total),
            Evento::Recebeu { sessao, quadro } => {
                self.receber_numerado(sessao, quadro, agora, &mut efeitos)
            }
            Evento::Caiu { sessao } if self.parametros.tolerancia > Duration::ZERO => {
                self.suspender(sessao, agora, &mut efeitos)
            }
            Evento::Caiu { sessao } => self.remover(sessao, false, agora, &mut efeitos),
        }
        self.concluir(efeitos, agora)
    }

    /// Ends the grace period of every suspended session whose deadline is past `agora` (rules 7
    /// and 9 then apply), takes from their agents the chats left unanswered past their deadline
    /// (rule 18), then sends every waiting customer whose place, agents or estimate changed
    /// since the last tick its new `Fila` (rules 5 and 20), and every agent whose departments'
    /// waiting count changed the new count (rule 5).
    pub fn tick(&mut self, agora: Duration) -> Vec<Efeito> {
        let mut efeitos = Vec::new();
        self.expirar(agora, &mut efeitos);
        self.cobrar_respostas(agora, &mut efeitos);
        self.encerrar_avaliacoes(agora, &mut efeitos);
        let alteracoes = self.filas.alteracoes();
        self.informar_filas(alteracoes.posicoes, &mut efeitos);
        for atendente in alteracoes.atendentes {
            self.informar_espera(atendente, false, &mut efeitos);
        }
        self.concluir(efeitos, agora)
    }

    /// The broker stops at `agora`: records the end of every open conversation in the history
    /// (when it is kept), and that no session is left (when journaled). The sessions themselves
    /// are the caller's to tell and close.
    pub fn parar(&self, agora: Duration) -> Vec<Efeito> {
        let mut efeitos = Vec::new();
        let mut abertas: Vec<u64> = self.conversas.iter().map(|(id, _)| id).collect();
        // Chats handed to a line are still open too, waiting with their customer.
        abertas.extend(
            self.sessoes
                .iter()
                .filter_map(|(_, sessao)| match &sessao.papel {
                    sessoes::PapelSessao::Cliente {
                        transferida: Some(pendente),
                        ..
                    } => Some(pendente.0),
                    _ => None,
                }),
        );
        abertas.sort_unstable();
        for conversa in abertas {
            self.registrar_fim(conversa, MotivoFim::BrokerEncerrando, agora, &mut efeitos);
        }
        if self.parametros.diario {
            // Everyone is told goodbye: no session outlives a graceful shutdown.
            efeitos.push(Efeito::Registrar(Registro::SemSessoes));
        }
        efeitos
    }

    /// Where a session stands, or `None` if the machine does not know it.
    pub fn situacao(&self, sessao: SessaoId) -> Option<Situacao<'_>> {
        let dados = self.sessoes.get(sessao)?;
        Some(match (dados.estado, &dados.papel) {
            (
                Estado::Aguardando,
                sessoes::PapelSessao::Cliente {
                    departamento,
                    chegada,
                    ..
                },
            ) => Situacao::Aguardando {
                departamento,
                posicao: self
                    .filas
                    .posicao(departamento, *chegada)
                    .map_or(0, |p| p as usize),
            },
            (Estado::Livre { .. }, _) => Situacao::Livre,
            (Estado::Lotado, _) => Situacao::Lotado,
            (Estado::Parado, _) => Situacao::Parado,
            (Estado::EmConversa { conversa }, _) => Situacao::EmConversa {
                parceiro: self.parceiro(sessao, conversa)?,
                conversa,
            },
            (Estado::Avaliando { conversa }, _) => Situacao::Avaliando { conversa },
            (Estado::Aguardando, sessoes::PapelSessao::Atendente { .. }) => {
                unreachable!("agents never wait in a customer line")
            }
        })
    }

    /// The chat a waiting customer carries, handed to its line by an agent (rule 19).
    pub fn conversa_em_espera(&self, sessao: SessaoId) -> Option<u64> {
        match &self.sessoes.get(sessao)?.papel {
            sessoes::PapelSessao::Cliente {
                transferida: Some(pendente),
                ..
            } => Some(pendente.0),
            _ => None,
        }
    }

    /// The lines a waiting customer wrote, kept for its agent (rule 22), oldest first.
    pub fn na_espera(&self, sessao: SessaoId) -> Vec<&str> {
        match self.sessoes.get(sessao).map(|s| &s.papel) {
            Some(sessoes::PapelSessao::Cliente { na_espera, .. }) => {
                na_espera.iter().map(|r| r.texto.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// A session's open chats as (conversation, the other side), in the order they started.
    pub fn conversas_de(&self, sessao: SessaoId) -> Vec<(u64, SessaoId)> {
        let Some(dados) = self.sessoes.get(sessao) else {
            return Vec::new();
        };
        dados
            .conversas()
            .into_iter()
            .filter_map(|conversa| Some((conversa, self.parceiro(sessao, conversa)?)))
            .collect()
    }

    /// The customers waiting in a department's line, head first.
    pub fn fila_clientes(&self, departamento: &str) -> Vec<SessaoId> {
        self.filas.clientes(departamento).collect()
    }

    /// Every agent with room, in the order they get customers: fewest chats first, and of
    /// those the one idle the longest.
    pub fn fila_atendentes(&self) -> Vec<SessaoId> {
        let mut livres: Vec<(usize, u64, SessaoId)> = self
            .sessoes
            .iter()
            .filter_map(|(id, s)| s.estado.vez(id))
            .collect();
        livres.sort_unstable();
        livres.into_iter().map(|(_, _, id)| id).collect()
    }

    /// How many sessions are registered.
    pub fn sessoes(&self) -> usize {
        self.sessoes.len()
    }

    /// Counts and keeps the numbered frames among `efeitos` (rule 17), notes since when the
    /// agents they reach are doing what they do, then adds the journal's records of what they
    /// changed.
    fn concluir(&mut self, mut efeitos: Vec<Efeito>, agora: Duration) -> Vec<Efeito> {
        self.sessoes.reter(&efeitos);
        self.marcar_atendentes(&efeitos, agora);
        self.anotar(&mut efeitos);
        efeitos
    }

    /// The other side of `id`'s conversation `conversa`.
    fn parceiro(&self, id: SessaoId, conversa: u64) -> Option<SessaoId> {
        self.conversas.get(conversa)?.parceiro_de(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: Duration = Duration::ZERO;

    fn registros(efeitos: &[Efeito]) -> Vec<Registro> {
        efeitos
            .iter()
            .filter_map(|efeito| match efeito {
                Efeito::Registrar(registro) => Some(registro.clone()),
                _ => None,
            })
            .collect()
    }

    /// Yuri (session 1) and Ana (session 2) in `geral`: Ana says one line, then leaves.
    fn uma_conversa(maquina: &mut Matchmaker) -> Vec<Efeito> {
        let s = Duration::from_secs;
        let mut efeitos = Vec::new();
        let entrou = |sessao, apresentacao| Evento::Entrou {
            sessao,
            apresentacao,
            ficha: [1; 16],
        };
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        efeitos.extend(maquina.aplicar(entrou(1, yuri), s(1)));
        efeitos.extend(maquina.aplicar(entrou(2, Apresentacao::cliente("Ana", "geral")), s(2)));
        let conversa = match maquina.situacao(2) {
            Some(Situacao::EmConversa { conversa, .. }) => conversa,
            outra => panic!("Ana should be chatting: {outra:?}"),
        };
        let linha = ParaBroker::Mensagem {
            conversa,
            texto: "olá".into(),
            seq: 0,
        };
        for (quadro, quando) in [(linha, s(3)), (ParaBroker::Sair { seq: 0 }, s(4))] {
            efeitos.extend(maquina.aplicar(Evento::Recebeu { sessao: 2, quadro }, quando));
        }
        efeitos
    }

    #[test]
    fn com_historico_registra_inicio_linhas_e_fim_e_pede_os_anteriores() {
        let mut maquina = Matchmaker::com_parametros(Parametros {
            historico: true,
            ultima_conversa: 41,
            ..Parametros::default()
        });
        let efeitos = uma_conversa(&mut maquina);
        let s = Duration::from_secs;
        assert_eq!(
            registros(&efeitos),
            [
                Registro::FimDeEspera {
                    departamento: "geral".into(),
                    cliente: "Ana".into(),
                    entrou_em: s(2),
                    terminou_em: s(2),
                    atendida: true,
                },
                Registro::Inicio {
                    conversa: 42,
                    departamento: "geral".into(),
                    cliente: "Ana".into(),
                    atendente: "Yuri".into(),
                    entrou_em: s(2),
                    conectada_em: s(2),
                },
                Registro::Mensagem {
                    conversa: 42,
                    seq: 0,
                    do_atendente: false,
                    autor: "Ana".into(),
                    texto: "olá".into(),
                    em: s(3),
                },
                Registro::Fim {
                    conversa: 42,
                    motivo: MotivoFim::ClienteSaiu,
                    em: s(4),
                },
            ]
        );
        assert!(efeitos.contains(&Efeito::ConsultarAnteriores {
            para: 1,
            cliente: "Ana".into(),
            conversa: 42,
        }));
    }

    #[test]
    fn sem_historico_nada_e_registrado() {
        let mut maquina = Matchmaker::com_parametros(Parametros::default());
        let efeitos = uma_conversa(&mut maquina);
        assert!(
            efeitos
                .iter()
                .all(|efeito| matches!(efeito, Efeito::Enviar { .. } | Efeito::Fechar { .. }))
        );
    }

    #[test]
    fn parar_registra_o_fim_das_conversas_abertas() {
        let mut maquina = Matchmaker::com_parametros(Parametros {
            historico: true,
            ..Parametros::default()
        });
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        let entrou = |sessao, apresentacao| Evento::Entrou {
            sessao,
            apresentacao,
            ficha: [1; 16],
        };
        maquina.aplicar(entrou(1, yuri), Duration::ZERO);
        maquina.aplicar(
            entrou(2, Apresentacao::cliente("Ana", "geral")),
            Duration::ZERO,
        );
        maquina.aplicar(
            entrou(3, Apresentacao::cliente("Bia", "geral")),
            Duration::ZERO,
        );
        // Ana chats, Bia waits: only Ana's conversation is open.
        assert_eq!(
            registros(&maquina.parar(Duration::from_secs(9))),
            [Registro::Fim {
                conversa: 1,
                motivo: MotivoFim::BrokerEncerrando,
                em: Duration::from_secs(9),
            }]
        );
    }

    fn entrou(sessao: SessaoId, apresentacao: Apresentacao) -> Evento {
        Evento::Entrou {
            sessao,
            apresentacao,
            ficha: [1; 16],
        }
    }

    fn enviados_a(efeitos: &[Efeito], sessao: SessaoId) -> Vec<DoBroker> {
        efeitos
            .iter()
            .filter_map(|efeito| match efeito {
                Efeito::Enviar { para, quadro } if *para == sessao => Some(quadro.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn departamento_desconhecido_e_recusado_com_a_lista() {
        let mut maquina = Matchmaker::com_parametros(Parametros {
            departamentos: vec!["geral".into(), "vendas".into()],
            ..Parametros::default()
        });
        let efeitos = maquina.aplicar(entrou(1, Apresentacao::cliente("Ana", "ve ndas!")), ZERO);
        let quadros = enviados_a(&efeitos, 1);
        assert_eq!(
            quadros[0],
            DoBroker::Departamentos {
                nomes: vec!["geral".into(), "vendas".into()]
            }
        );
        assert!(matches!(
            &quadros[1],
            DoBroker::Erro { codigo: proto::CodigoErro::DepartamentoInvalido, texto }
                if texto.contains("geral, vendas")
        ));
        assert!(efeitos.contains(&Efeito::Fechar { sessao: 1 }));
        // A known one, in any case, is taken; the list follows the welcome.
        let efeitos = maquina.aplicar(entrou(2, Apresentacao::cliente("Bia", " Vendas")), ZERO);
        let quadros = enviados_a(&efeitos, 2);
        assert!(matches!(quadros[0], DoBroker::BemVindo { .. }));
        assert!(matches!(quadros[1], DoBroker::Departamentos { .. }));
        // An agent listing one unknown department is refused too.
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into(), "rh".into()], "t");
        let efeitos = maquina.aplicar(entrou(3, yuri), ZERO);
        assert!(matches!(
            enviados_a(&efeitos, 3)[1],
            DoBroker::Erro {
                codigo: proto::CodigoErro::DepartamentoInvalido,
                ..
            }
        ));
    }

    #[test]
    fn a_estimativa_segue_os_lugares_e_a_media() {
        let mut maquina = Matchmaker::new();
        maquina.lembrar_atendimentos("geral", &[Duration::from_secs(60); 3]);
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t").com_capacidade(2);
        maquina.aplicar(entrou(1, yuri), ZERO);
        for (sessao, nome) in [(2, "Ana"), (3, "Bia"), (4, "Caio"), (5, "Duda")] {
            maquina.aplicar(entrou(sessao, Apresentacao::cliente(nome, "geral")), ZERO);
        }
        // Two places each freeing every 60 s on average: 30 s a place.
        let efeitos = maquina.aplicar(entrou(6, Apresentacao::cliente("Eva", "geral")), ZERO);
        assert_eq!(
            enviados_a(&efeitos, 6)[1],
            DoBroker::Fila {
                posicao: 3,
                atendentes: 1,
                estimativa_s: Some(90)
            }
        );
        // The agent pauses: nobody can answer, and there is no estimate.
        let pausa = ParaBroker::Pausar { seq: 0 };
        maquina.aplicar(
            Evento::Recebeu {
                sessao: 1,
                quadro: pausa,
            },
            ZERO,
        );
        let efeitos = maquina.tick(Duration::from_secs(1));
        assert!(enviados_a(&efeitos, 6).contains(&DoBroker::Fila {
            posicao: 3,
            atendentes: 0,
            estimativa_s: None
        }));
    }

    #[test]
    fn o_que_o_cliente_escreve_na_fila_chega_ao_atendente_depois_do_conectado() {
        let mut maquina = Matchmaker::new();
        maquina.aplicar(entrou(1, Apresentacao::cliente("Ana", "geral")), ZERO);
        for i in 1..=proto::NA_ESPERA_MAXIMO + 1 {
            let quadro = ParaBroker::Mensagem {
                conversa: 0,
                texto: format!("linha {i}"),
                seq: 0,
            };
            let efeitos = maquina.aplicar(Evento::Recebeu { sessao: 1, quadro }, ZERO);
            let recusada = enviados_a(&efeitos, 1).iter().any(|quadro| {
                matches!(
                    quadro,
                    DoBroker::Erro {
                        codigo: proto::CodigoErro::EsperaCheia,
                        ..
                    }
                )
            });
            assert_eq!(recusada, i > proto::NA_ESPERA_MAXIMO, "linha {i}");
        }
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        let efeitos = maquina.aplicar(entrou(2, yuri), ZERO);
        let quadros = enviados_a(&efeitos, 2);
        let conectado = quadros
            .iter()
            .position(|q| matches!(q, DoBroker::Conectado { .. }))
            .expect("paired");
        let textos: Vec<String> = (1..=proto::NA_ESPERA_MAXIMO)
            .map(|i| format!("linha {i}"))
            .collect();
        assert_eq!(
            quadros[conectado + 1],
            DoBroker::NaEspera {
                conversa: 1,
                textos
            }
        );
        // Now in the chat, a line for conversation 0 goes to it.
        let quadro = ParaBroker::Mensagem {
            conversa: 0,
            texto: "e agora?".into(),
            seq: 0,
        };
        let efeitos = maquina.aplicar(Evento::Recebeu { sessao: 1, quadro }, ZERO);
        assert!(enviados_a(&efeitos, 2).contains(&DoBroker::Mensagem {
            conversa: 1,
            de: "Ana".into(),
            texto: "e agora?".into(),
        }));
    }

    #[test]
    fn o_que_fica_para_o_atendente_cabe_num_quadro() {
        let mut maquina = Matchmaker::new();
        maquina.aplicar(entrou(1, Apresentacao::cliente("Ana", "geral")), ZERO);
        let longa = "x".repeat(TEXTO_MAXIMO / 2);
        let mut recusadas = 0;
        for _ in 0..3 {
            let quadro = ParaBroker::Mensagem {
                conversa: 0,
                texto: longa.clone(),
                seq: 0,
            };
            let efeitos = maquina.aplicar(Evento::Recebeu { sessao: 1, quadro }, ZERO);
            recusadas += enviados_a(&efeitos, 1)
                .iter()
                .filter(|q| matches!(q, DoBroker::Erro { .. }))
                .count();
        }
        // Two halves do not fit with their lengths: only the first is kept.
        assert_eq!(recusadas, 2);
        assert_eq!(maquina.na_espera(1).len(), 1);
        // A chat's transcript keeps its latest lines within one text's size.
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        maquina.aplicar(entrou(2, yuri), ZERO);
        for _ in 0..5 {
            let quadro = ParaBroker::Mensagem {
                conversa: 1,
                texto: longa.clone(),
                seq: 0,
            };
            maquina.aplicar(Evento::Recebeu { sessao: 1, quadro }, ZERO);
        }
        let transcricao = maquina.conversas.get(1).expect("open").transcricao(1);
        let bytes = proto::codec::codificar(&transcricao)
            .expect("encodes")
            .len();
        assert!(bytes <= TEXTO_MAXIMO + 64, "{bytes}");
        assert!(
            matches!(transcricao, DoBroker::Transcricao { omitidas: 5, .. }),
            "{:?}",
            match &transcricao {
                DoBroker::Transcricao {
                    omitidas, falas, ..
                } => (*omitidas, falas.len()),
                _ => (0, 0),
            }
        );
    }

    #[test]
    fn agente_suspenso_nao_conta_como_online() {
        let mut maquina = Matchmaker::com_parametros(Parametros {
            tolerancia: Duration::from_secs(60),
            ..Parametros::default()
        });
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        maquina.aplicar(entrou(1, yuri), ZERO);
        maquina.aplicar(entrou(2, Apresentacao::cliente("Ana", "geral")), ZERO);
        let efeitos = maquina.aplicar(entrou(3, Apresentacao::cliente("Bia", "geral")), ZERO);
        assert!(matches!(
            enviados_a(&efeitos, 3)[1],
            DoBroker::Fila { atendentes: 1, .. }
        ));
        // Yuri's connection drops: nobody can answer Bia until he is back.
        maquina.aplicar(Evento::Caiu { sessao: 1 }, ZERO);
        let efeitos = maquina.tick(Duration::from_secs(1));
        assert!(enviados_a(&efeitos, 3).contains(&DoBroker::Fila {
            posicao: 1,
            atendentes: 0,
            estimativa_s: None
        }));
    }
}
