//! The frames of the protocol, one enum per direction.
//!
//! Each frame on the wire is one value of [`ParaBroker`] (peer to broker) or [`DoBroker`]
//! (broker to peer) encoded with postcard. Variants are only ever added at the end of an enum;
//! any incompatible change bumps [`VERSAO_PROTOCOLO`]. The handshake ([`ParaBroker::Apresentacao`])
//! is variant 0 and starts with the version, so that a broker can always tell a peer of another
//! version apart from garbage.

use serde::{Deserialize, Serialize};

/// Version of the protocol this crate speaks; sent first in every handshake.
pub const VERSAO_PROTOCOLO: u16 = 12;

/// Identifies one session with the broker for as long as the broker runs.
pub type SessaoId = u64;

/// The secret a session is resumed with after its connection drops (from `BemVindo`).
pub type Ficha = [u8; 16];

/// A frame sent by a peer (`cliente` or `atendente`) to the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParaBroker {
    /// The handshake: must be the first frame of a connection and only that one.
    Apresentacao(Apresentacao),
    /// A chat line for the partner of the given conversation. A line for a conversation that
    /// has already ended (the sender had not yet read its `Fim`) is refused, never delivered to
    /// whoever the sender is paired with next. A waiting customer's line (`conversa` 0, or the
    /// chat it waits with after a transfer) is kept, up to [`NA_ESPERA_MAXIMO`] lines, and
    /// reaches its agent as [`DoBroker::NaEspera`] right after `Conectado`.
    Mensagem {
        /// The conversation the line belongs to (from `Conectado`; 0 while waiting).
        conversa: u64,
        /// The text as typed; see [`crate::validacao::validar_texto`] for what is accepted.
        texto: String,
        /// The line's number in this session: 1, 2, 3, ... (kept across resumes), so that a line
        /// sent again after a resume is not relayed twice; the broker answers `Confirmada`. 0
        /// means unnumbered: relayed, never confirmed, never deduplicated.
        seq: u64,
    },
    /// An agent ends one of its chats (`/fim`) and has room for another customer. From a
    /// customer it means the same as [`ParaBroker::Sair`] (`conversa` is not looked at).
    Encerrar {
        /// The chat to end (from `Conectado`).
        conversa: u64,
        /// Numbered like chat lines (see [`ParaBroker::Mensagem`]): a command typed while the
        /// connection was down is sent again after the resume and carried out once.
        seq: u64,
    },
    /// The peer leaves: out of the line, out of any chat. The broker confirms with `Fim` and
    /// closes the connection.
    Sair {
        /// Numbered like chat lines.
        seq: u64,
    },
    /// An agent stops taking new customers (a chat in progress goes on). Confirmed by `Pausa`.
    Pausar {
        /// Numbered like chat lines.
        seq: u64,
    },
    /// A paused agent comes back and takes customers again (`/voltar`). Confirmed by `Pausa`.
    Voltar {
        /// Numbered like chat lines.
        seq: u64,
    },
    /// The answer to the broker's `Ping`.
    Pong,
    /// How many numbered broker frames (see [`DoBroker::numerado`]) the peer has received in
    /// this session, so the broker can stop keeping them for a resume. Sent every so often and
    /// with `Pong`.
    Recebidos {
        /// Numbered frames received since the session started (across resumes).
        total: u64,
    },
    /// An agent hands one of its chats to a colleague or another department (`/transferir`).
    /// The chat keeps its id; the agent's side of it ends with `Fim(Transferido)`. Refused with
    /// `TransferenciaRecusada` (the chat goes on) when the colleague is offline, paused or full.
    Transferir {
        /// The chat to hand over.
        conversa: u64,
        /// Where it goes.
        destino: Destino,
        /// Numbered like chat lines.
        seq: u64,
    },
    /// A customer rates the chat its agent ended (the answer to [`DoBroker::Avaliacao`]); the
    /// broker then ends the session (`Fim` with `conversa` 0).
    Avaliar {
        /// The chat (from `Avaliacao`).
        conversa: u64,
        /// 1 (bad) to 5 (very good).
        nota: u8,
        /// Numbered like chat lines.
        seq: u64,
    },
}

/// Where a transferred chat goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destino {
    /// A department's line: the customer waits there at the place its first arrival gives it.
    Departamento(String),
    /// A named agent with a free place, at once.
    Atendente(String),
}

/// The handshake a peer opens its connection with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Apresentacao {
    /// The protocol version the peer speaks ([`VERSAO_PROTOCOLO`]).
    pub versao: u16,
    /// The name shown to the other side of a chat.
    pub nome: String,
    /// Whether the peer is a customer or an agent, and the departments involved.
    pub papel: Papel,
    /// The agent credential; required to take the agent role, ignored for customers.
    pub token: Option<String>,
    /// Set to resume a session whose connection dropped, instead of starting a new one.
    pub retomar: Option<Retomada>,
}

/// What a peer resuming a session tells the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retomada {
    /// The session's secret, from its `BemVindo`.
    pub ficha: Ficha,
    /// How many numbered frames of the session the peer has received; the broker sends the
    /// rest again.
    pub recebidos: u64,
}

impl Apresentacao {
    /// A customer's handshake for this protocol version.
    pub fn cliente(nome: impl Into<String>, departamento: impl Into<String>) -> Self {
        Apresentacao {
            versao: VERSAO_PROTOCOLO,
            nome: nome.into(),
            papel: Papel::Cliente {
                departamento: departamento.into(),
            },
            token: None,
            retomar: None,
        }
    }

    /// An agent's handshake for this protocol version.
    pub fn atendente(
        nome: impl Into<String>,
        departamentos: Vec<String>,
        token: impl Into<String>,
    ) -> Self {
        Apresentacao {
            versao: VERSAO_PROTOCOLO,
            nome: nome.into(),
            papel: Papel::Atendente {
                departamentos,
                capacidade: 1,
            },
            token: Some(token.into()),
            retomar: None,
        }
    }

    /// A supervisor's handshake for this protocol version.
    pub fn supervisor(nome: impl Into<String>, token: impl Into<String>) -> Self {
        Apresentacao {
            versao: VERSAO_PROTOCOLO,
            nome: nome.into(),
            papel: Papel::Supervisor,
            token: Some(token.into()),
            retomar: None,
        }
    }

    /// The same handshake asking for `capacidade` chats at once (agents only).
    pub fn com_capacidade(mut self, capacidade: u8) -> Self {
        if let Papel::Atendente {
            capacidade: pedida, ..
        } = &mut self.papel
        {
            *pedida = capacidade;
        }
        self
    }
}

/// The role a peer takes for the whole of its connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Papel {
    /// A customer waiting to be served.
    Cliente {
        /// The department whose line the customer joins.
        departamento: String,
    },
    /// A support agent.
    Atendente {
        /// The departments whose customers this agent serves (at least one).
        departamentos: Vec<String>,
        /// How many chats the agent takes at once, 1 to [`CAPACIDADE_MAXIMA`] (the broker may
        /// give fewer: `BemVindo.capacidade` says how many).
        capacidade: u8,
    },
    /// A supervisor: it serves no line and takes no chat; the broker sends it a [`Painel`]
    /// every second. Needs a supervisor credential in `token`.
    Supervisor,
}

/// A frame sent by the broker to a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoBroker {
    /// The handshake was accepted.
    BemVindo {
        /// The id the broker gave this connection (it appears in the broker's logs).
        sessao: SessaoId,
        /// How often the broker sends `Ping`, in milliseconds: a peer that hears nothing for
        /// twice as long may take the connection as dead, and one that sends nothing (not even
        /// `Pong`) for twice as long is disconnected.
        batimento_ms: u64,
        /// The secret to resume this session with ([`Retomada`]); all zeros when the broker
        /// does not offer resumes.
        ficha: Ficha,
        /// How long the broker keeps a session whose connection dropped, in milliseconds (0:
        /// sessions cannot be resumed).
        tolerancia_ms: u64,
        /// Whether this connection resumed an earlier one (otherwise the session is new).
        retomada: bool,
        /// The highest `seq` (chat line or command) the broker has handled from this session
        /// (0: none): unconfirmed frames after it must be sent again.
        ultima_aceita: u64,
        /// Frames per second this session may send, on average (`Pong` and `Recebidos` aside).
        /// A peer that sends faster is not refused: the broker reads its frames more slowly.
        mensagens_por_segundo: u32,
        /// Frames that may be sent at once before that rate applies.
        rajada: u32,
        /// (To agents) how many chats the broker gives this agent at once: what it asked for,
        /// within the broker's limit. 1 for customers.
        capacidade: u8,
    },
    /// (To customers) where the customer stands in its department's line: sent on joining and
    /// whenever its place, the agents able to answer or the estimate change (at most once per
    /// tick).
    Fila {
        /// The 1-based place; 1 means "next to be served".
        posicao: u32,
        /// Agents serving the department who are connected and not paused; 0 means nobody can
        /// answer now (the customer stays in line).
        atendentes: u32,
        /// The estimated wait in seconds, from the department's recent handling times and the
        /// places its agents have; `None` when it cannot be known (no agent, or no chat yet).
        estimativa_s: Option<u32>,
    },
    /// A chat has started.
    Conectado {
        /// The partner's name.
        com: String,
        /// The conversation's id, unique for as long as the broker runs.
        conversa: u64,
        /// The customer's department.
        departamento: String,
        /// How long the customer waited since it connected, in milliseconds.
        espera_ms: u64,
    },
    /// A chat line from the partner.
    Mensagem {
        /// The chat it belongs to (an agent may be in several).
        conversa: u64,
        /// The partner's name.
        de: String,
        /// The text the partner sent.
        texto: String,
    },
    /// A chat (or the whole session) has ended, and why.
    Fim {
        /// The chat that ended; 0 when what ends is the session itself outside any chat (a
        /// customer leaving the line, an agent leaving or the broker stopping).
        conversa: u64,
        /// Why it ended; it also tells whether the connection closes next (see [`MotivoFim`]).
        motivo: MotivoFim,
    },
    /// Something the peer sent was refused.
    Erro {
        /// What went wrong, for programs.
        codigo: CodigoErro,
        /// What went wrong, for people (Brazilian Portuguese).
        texto: String,
    },
    /// (To agents) how many customers wait in the agent's departments; sent on joining and
    /// whenever it changes (at most once per tick).
    Espera {
        /// Customers waiting in all the agent's departments together.
        clientes: u32,
    },
    /// (To agents) whether the agent is now paused; the answer to `Pausar` and `Voltar`.
    Pausa {
        /// `true` once paused, `false` once taking customers again.
        pausado: bool,
    },
    /// A heartbeat: answer with `Pong`.
    Ping,
    /// (To agents, when the broker keeps a history) the customer's earlier conversations, sent
    /// shortly after `Conectado`. Customers are known by name only, so these are the
    /// conversations of customers with the same name.
    Anteriores {
        /// The chat this is about (the id `Conectado` gave); a program may drop it if that chat
        /// is already over.
        conversa: u64,
        /// The most recent earlier conversations (at most [`ANTERIORES_MAXIMO`]), newest first.
        conversas: Vec<Anterior>,
    },
    /// The peer's numbered frames (chat lines and commands) up to this `seq` have been handled:
    /// they will not be lost, and need not be sent again after a resume.
    Confirmada {
        /// The highest accepted `seq`.
        seq: u64,
    },
    /// (In a chat) the partner's connection dropped and the broker waits for it to resume
    /// (`conectado: false`; the chat stays open, and lines sent meanwhile reach the partner when
    /// it is back), or it came back (`true`). If the grace period ends first, `Fim` follows.
    Parceiro {
        /// The chat whose other side this is about.
        conversa: u64,
        /// Whether the partner is connected now.
        conectado: bool,
    },
    /// (To customers) the chat was handed over: to a department (`Fila` follows, or the new
    /// agent's `Conectado`) or to a named agent (whose `Conectado`, with the same `conversa`,
    /// follows).
    Transferido {
        /// The chat.
        conversa: u64,
        /// The department or the agent it went to.
        para: String,
    },
    /// (To agents) the chat so far, sent right after the `Conectado` of a chat that another
    /// agent started: its most recent lines, oldest first.
    Transcricao {
        /// The chat.
        conversa: u64,
        /// Earlier lines left out (only the last [`TRANSCRICAO_MAXIMA`] are sent).
        omitidas: u64,
        /// The lines.
        falas: Vec<Fala>,
    },
    /// The departments this broker serves: sent right after `BemVindo` when the broker has a
    /// fixed list, and right before the `Erro(DepartamentoInvalido)` that refuses a handshake
    /// naming another (so a program may ask with an empty department, then offer a menu). An
    /// empty list means any department name is accepted.
    Departamentos {
        /// Their names, in the broker's order (the first is the default).
        nomes: Vec<String>,
    },
    /// (To agents) what the customer wrote while it waited, oldest first: sent right after the
    /// `Conectado` of the chat (after `Transcricao`, for a chat taken over). These lines are
    /// part of the chat from then on (its history and its transcript).
    NaEspera {
        /// The chat.
        conversa: u64,
        /// The lines, as typed.
        textos: Vec<String>,
    },
    /// (To customers) the agent ended the chat (the `Fim` before this): the customer may rate it
    /// with [`ParaBroker::Avaliar`] within `prazo_s` seconds, or leave (`Sair`). The session
    /// then ends with `Fim` with `conversa` 0.
    Avaliacao {
        /// The chat to rate.
        conversa: u64,
        /// Seconds left to answer.
        prazo_s: u32,
    },
    /// (To supervisors) the broker as it is now: sent right after `BemVindo`, then every
    /// second.
    Painel(Box<Painel>),
}

/// What a supervisor sees of the broker ([`DoBroker::Painel`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Painel {
    /// The service-level target, in milliseconds: a customer answered within it counts as
    /// answered in time.
    pub meta_ms: u64,
    /// The configured departments, in their order, then every other with a line, an agent, a
    /// chat or figures today, by name.
    pub departamentos: Vec<PainelDepartamento>,
    /// Every agent the broker knows (connected or away), by name.
    pub atendentes: Vec<PainelAtendente>,
    /// Agents (then departments) left out, from the end of their lists, so that the frame fits
    /// the broker's frame size.
    pub omitidos: u32,
}

/// One department in a [`Painel`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PainelDepartamento {
    /// Its name.
    pub nome: String,
    /// Customers waiting in its line now.
    pub aguardando: u32,
    /// How long the customer at the head of the line has waited, in milliseconds (0: nobody
    /// waits).
    pub maior_espera_ms: u64,
    /// The wait a customer joining now would be told, in seconds (`None`: unknown; 0: an agent
    /// has a free place, so it would be answered at once).
    pub estimativa_s: Option<u32>,
    /// Its agents who are connected (paused or not).
    pub atendentes_online: u32,
    /// Of those, the ones in at least one chat.
    pub atendentes_em_conversa: u32,
    /// Of those, the ones paused.
    pub atendentes_pausados: u32,
    /// Its chats open now.
    pub conversas: u32,
    /// Today (UTC): customers who arrived.
    pub chegadas_hoje: u32,
    /// Today: customers an agent answered.
    pub atendidos_hoje: u32,
    /// Today: customers answered within [`Painel::meta_ms`].
    pub no_prazo_hoje: u32,
    /// Today: customers who left before an agent answered.
    pub abandonos_hoje: u32,
}

/// One agent in a [`Painel`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PainelAtendente {
    /// Its name.
    pub nome: String,
    /// The departments it serves.
    pub departamentos: Vec<String>,
    /// How many chats it takes at once.
    pub capacidade: u8,
    /// What it is doing.
    pub estado: EstadoAtendente,
    /// For how long it has been in that state, in milliseconds.
    pub ha_ms: u64,
    /// Its open chats, oldest first.
    pub conversas: Vec<PainelConversa>,
}

/// What an agent in a [`Painel`] is doing. (Names are snake_case in `--json` output.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstadoAtendente {
    /// Connected, not paused, in no chat.
    Livre,
    /// Connected, not paused, in at least one chat.
    EmConversa,
    /// Paused (its chats, if any, go on).
    Pausado,
    /// Its connection is gone; the broker waits for it to resume.
    Ausente,
}

/// One open chat of an agent in a [`Painel`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PainelConversa {
    /// The conversation id.
    pub conversa: u64,
    /// The customer's name.
    pub cliente: String,
    /// The customer's department.
    pub departamento: String,
    /// How long the chat has been with this agent, in milliseconds.
    pub ha_ms: u64,
}

/// Most lines a waiting customer may leave for its agent ([`DoBroker::NaEspera`]); one more is
/// refused with `EsperaCheia`.
pub const NA_ESPERA_MAXIMO: usize = 10;

/// Most lines a [`DoBroker::Transcricao`] carries.
pub const TRANSCRICAO_MAXIMA: usize = 200;

/// One line of a [`DoBroker::Transcricao`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fala {
    /// Who wrote it.
    pub de: String,
    /// Whether an agent wrote it (otherwise the customer).
    pub do_atendente: bool,
    /// What it says.
    pub texto: String,
}

/// Most earlier conversations one [`DoBroker::Anteriores`] carries.
pub const ANTERIORES_MAXIMO: usize = 5;

/// Most chats an agent may take at once ([`Papel::Atendente::capacidade`]).
pub const CAPACIDADE_MAXIMA: u8 = 10;

/// One earlier conversation of a customer, as [`DoBroker::Anteriores`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anterior {
    /// Its conversation id (`broker conversa ID` prints it).
    pub conversa: u64,
    /// When it started, in milliseconds since the Unix epoch (UTC).
    pub inicio_ms: u64,
    /// The customer's department then.
    pub departamento: String,
    /// The agent who served it.
    pub atendente: String,
    /// Why it ended (`None` if the broker stopped without recording it).
    pub motivo: Option<MotivoFim>,
    /// Chat lines in it.
    pub mensagens: u32,
}

/// Why a chat or a session ended. (Names are snake_case in the apps' JSON output; postcard
/// encodes only the variant index.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotivoFim {
    /// The customer ended the chat or left the line. Sent to the customer (its connection then
    /// closes) and to its agent (who is free again).
    ClienteSaiu,
    /// The customer's connection was lost. Sent to its agent, who is free again.
    ClienteDesconectou,
    /// The agent ended the chat. Sent to the customer (its connection then closes) and to the
    /// agent (who is free again).
    AtendenteEncerrou,
    /// The agent left. Sent to the agent (its connection then closes) and to its customer, who
    /// goes back to the head of its line.
    AtendenteSaiu,
    /// The agent's connection was lost. Sent to its customer, who goes back to the head of its
    /// line.
    AtendenteDesconectou,
    /// The broker is shutting down; the connection closes next.
    BrokerEncerrando,
    /// The agent sent no line in a new chat within the broker's answer deadline. Sent to the
    /// agent only, who is then paused (`Pausa` follows); the customer goes back to its line at
    /// its place, and on to another agent.
    SemResposta,
    /// The agent handed the chat over (`Transferir`). Sent to that agent only, who has a place
    /// free again; the chat goes on with its new agent.
    Transferido,
}

/// What kind of error an [`DoBroker::Erro`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodigoErro {
    /// The handshake's protocol version is not one the broker speaks. The connection closes.
    VersaoIncompativel,
    /// The first frame was not a handshake. The connection closes.
    ApresentacaoEsperada,
    /// The name is empty, too long or has control characters. The connection closes.
    NomeInvalido,
    /// Another connected agent already has this name. The connection closes.
    NomeEmUso,
    /// A department name is invalid, or an agent named none. The connection closes.
    DepartamentoInvalido,
    /// The bytes received are not a valid frame. The connection closes.
    QuadroInvalido,
    /// A frame is larger than the maximum size. The connection closes.
    QuadroGrande,
    /// No handshake arrived in time. The connection closes.
    PrazoEsgotado,
    /// A chat line or `Encerrar` was sent while not in that chat (none, or one that has ended).
    /// The connection stays open.
    SemConversa,
    /// The chat text is empty, too long or has control characters. The connection stays open.
    TextoInvalido,
    /// A second handshake on the same connection. The connection stays open.
    ApresentacaoRepetida,
    /// A customer sent a command only agents have (`Pausar`, `Voltar`). The connection stays
    /// open.
    ApenasAtendente,
    /// The department's line is full; try again later. The connection closes.
    FilaCheia,
    /// Too many connections (in all, or from this address). The connection closes.
    LimiteDeConexoes,
    /// No longer sent (since version 6 a peer over its rate is read more slowly instead); kept
    /// so that the codes after it keep their numbers.
    MuitasMensagens,
    /// The agent credential is missing or wrong. The connection closes.
    NaoAutorizado,
    /// The session asked to resume is unknown, expired, or can no longer be resumed exactly.
    /// The connection closes; start a new session.
    RetomadaInvalida,
    /// A transfer that cannot be made: the colleague is offline, paused or full, is the sender
    /// itself, or the department's name is invalid. The chat goes on; the connection stays open.
    TransferenciaRecusada,
    /// A waiting customer already left [`NA_ESPERA_MAXIMO`] lines for its agent, or this one
    /// would take them all past the text limit; the line was not kept. The connection stays
    /// open.
    EsperaCheia,
    /// An `Avaliar` with a grade outside 1 to 5, or with no chat waiting to be rated. The
    /// connection stays open.
    AvaliacaoInvalida,
}

impl CodigoErro {
    /// A plain Portuguese explanation, used as the frame's text when there is nothing more
    /// specific to say.
    pub fn descricao(self) -> &'static str {
        match self {
            CodigoErro::VersaoIncompativel => "versão do protocolo incompatível com o broker",
            CodigoErro::ApresentacaoEsperada => "a conexão deve começar com a apresentação",
            CodigoErro::NomeInvalido => "nome inválido",
            CodigoErro::NomeEmUso => "já existe um atendente conectado com esse nome",
            CodigoErro::DepartamentoInvalido => "departamento inválido",
            CodigoErro::QuadroInvalido => "dados inválidos recebidos",
            CodigoErro::QuadroGrande => "quadro maior que o permitido",
            CodigoErro::PrazoEsgotado => "a apresentação não chegou a tempo",
            CodigoErro::SemConversa => "você não está em uma conversa",
            CodigoErro::TextoInvalido => "mensagem inválida",
            CodigoErro::ApresentacaoRepetida => "a apresentação já foi feita",
            CodigoErro::ApenasAtendente => "apenas atendentes podem fazer isso",
            CodigoErro::FilaCheia => "a fila deste departamento está cheia; tente mais tarde",
            CodigoErro::LimiteDeConexoes => "conexões demais; tente mais tarde",
            CodigoErro::MuitasMensagens => "mensagens rápidas demais",
            CodigoErro::NaoAutorizado => "credencial de atendente ausente ou inválida",
            CodigoErro::RetomadaInvalida => "a sessão expirou e não pode mais ser retomada",
            CodigoErro::TransferenciaRecusada => "não foi possível transferir a conversa",
            CodigoErro::AvaliacaoInvalida => "a nota vai de 1 a 5, para o atendimento que terminou",
            CodigoErro::EsperaCheia => {
                "você já deixou o máximo de mensagens; aguarde o atendente para escrever mais"
            }
        }
    }

    /// Whether the broker closes the connection after sending this error.
    pub fn encerra_conexao(self) -> bool {
        !matches!(
            self,
            CodigoErro::SemConversa
                | CodigoErro::TextoInvalido
                | CodigoErro::ApresentacaoRepetida
                | CodigoErro::ApenasAtendente
                | CodigoErro::MuitasMensagens
                | CodigoErro::TransferenciaRecusada
                | CodigoErro::EsperaCheia
                | CodigoErro::AvaliacaoInvalida
        )
    }
}

impl ParaBroker {
    /// The frame's `seq`, for the frames that are numbered (chat lines and commands); 0 for an
    /// unnumbered one or any other frame.
    pub fn seq(&self) -> u64 {
        match self {
            ParaBroker::Mensagem { seq, .. }
            | ParaBroker::Encerrar { seq, .. }
            | ParaBroker::Sair { seq }
            | ParaBroker::Pausar { seq }
            | ParaBroker::Voltar { seq }
            | ParaBroker::Transferir { seq, .. }
            | ParaBroker::Avaliar { seq, .. } => *seq,
            _ => 0,
        }
    }

    /// The same frame numbered `novo`, if it is of a kind that is numbered; otherwise the frame
    /// back unchanged.
    pub fn com_seq(self, novo: u64) -> Result<ParaBroker, ParaBroker> {
        Ok(match self {
            ParaBroker::Mensagem {
                conversa, texto, ..
            } => ParaBroker::Mensagem {
                conversa,
                texto,
                seq: novo,
            },
            ParaBroker::Encerrar { conversa, .. } => ParaBroker::Encerrar {
                conversa,
                seq: novo,
            },
            ParaBroker::Sair { .. } => ParaBroker::Sair { seq: novo },
            ParaBroker::Pausar { .. } => ParaBroker::Pausar { seq: novo },
            ParaBroker::Voltar { .. } => ParaBroker::Voltar { seq: novo },
            ParaBroker::Transferir {
                conversa, destino, ..
            } => ParaBroker::Transferir {
                conversa,
                destino,
                seq: novo,
            },
            ParaBroker::Avaliar { conversa, nota, .. } => ParaBroker::Avaliar {
                conversa,
                nota,
                seq: novo,
            },
            outro => return Err(outro),
        })
    }
}

impl DoBroker {
    /// Whether this frame is numbered for resumes: `Conectado`, `Mensagem` and `Fim` count 1, 2,
    /// 3, ... in the order the broker sends them to a session, and a resumed session gets again
    /// every one after the count it gives in [`Retomada::recebidos`]. The other frames tell
    /// state that a resume sends afresh (`Fila`, `Espera`), or need no resend.
    pub fn numerado(&self) -> bool {
        matches!(
            self,
            DoBroker::Conectado { .. }
                | DoBroker::Mensagem { .. }
                | DoBroker::Fim { .. }
                | DoBroker::Transferido { .. }
                | DoBroker::Transcricao { .. }
                | DoBroker::NaEspera { .. }
                | DoBroker::Avaliacao { .. }
        )
    }

    /// Whether this frame ends the session of a peer in the given role (customer or not): after
    /// it the broker closes the connection and the session cannot be resumed.
    pub fn encerra_sessao(&self, cliente: bool) -> bool {
        match self {
            // A customer whose agent left goes back to its line, and one whose agent ended the
            // chat is asked to rate it: both sessions go on, until a `Fim` for no chat.
            DoBroker::Fim { conversa, motivo } if cliente => {
                *conversa == 0
                    || !matches!(
                        motivo,
                        MotivoFim::AtendenteSaiu
                            | MotivoFim::AtendenteDesconectou
                            | MotivoFim::AtendenteEncerrou
                    )
            }
            DoBroker::Fim { motivo, .. } => matches!(
                motivo,
                MotivoFim::AtendenteSaiu | MotivoFim::BrokerEncerrando
            ),
            DoBroker::Erro { codigo, .. } => codigo.encerra_conexao(),
            _ => false,
        }
    }

    /// An `Erro` frame with the code's standard description as its text.
    pub fn erro(codigo: CodigoErro) -> Self {
        DoBroker::Erro {
            codigo,
            texto: codigo.descricao().to_owned(),
        }
    }
}
