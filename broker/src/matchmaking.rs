//! The matchmaking state machine: lines, pairs and chat routing, with no I/O at all.
//!
//! [`Matchmaker`] implements the rules of the design (DESIGN.md, "The rules of the state
//! machine"). Every input is an [`Evento`]; applying it returns the [`Efeito`]s it causes: frames
//! to send to a session, and sessions to close. The actor turns those into channel sends; the
//! property tests compare them with a reference model; a benchmark can time them alone.
//!
//! Each department keeps its waiting customers in arrival order and its free agents in idle
//! order. A customer whose agent drops goes back into its line by its original arrival number,
//! which puts it ahead of everyone who arrived after it: it keeps its turn (rule 9) and the line
//! stays sorted by arrival. Positions that change are sent on the next [`Matchmaker::tick`],
//! coalesced to the latest value per customer (rule 5); a customer's own joining position is sent
//! at once. Agents are likewise told how many customers wait in their departments.
//!
//! Time enters only as an argument (the broker's uptime when an event happens), so the machine
//! stays deterministic: it is used to tell both sides of a new chat how long the customer waited,
//! and when a dropped session's grace period ends.
//!
//! When [`Parametros::tolerancia`] is set, a session whose connection drops is suspended rather
//! than removed, and a new connection can take it over; the `retomada` submodule holds that part. When
//! [`Parametros::diario`] is set too, the machine also writes down what a broker restarted after
//! a crash needs to come back with its sessions; the `diario` submodule holds that part.

mod diario;
mod retomada;

pub use diario::{Instantaneo, LinhaSalva};

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use proto::validacao::{
    NOME_MAXIMO, TEXTO_MAXIMO, normalizar_departamento_ate, validar_nome_ate, validar_texto_ate,
};
use proto::{Apresentacao, CodigoErro, DoBroker, Ficha, MotivoFim, Papel, ParaBroker, SessaoId};

use retomada::Retomavel;

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
    /// A chat ended.
    Fim {
        /// The conversation id.
        conversa: u64,
        /// Why.
        motivo: MotivoFim,
        /// When.
        em: Duration,
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
    /// An agent waiting for a customer.
    Livre,
    /// An agent who paused and is in no chat: it gets no customer until it resumes.
    Pausado,
    /// In a chat.
    EmConversa {
        /// The other side of the chat.
        parceiro: SessaoId,
        /// The conversation's id.
        conversa: u64,
    },
}

/// The limits the state machine enforces and announces, from the broker's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        }
    }
}

/// The matchmaking state: every session, every line, every pair.
#[derive(Debug, Default)]
pub struct Matchmaker {
    /// The limits in force.
    parametros: Parametros,
    /// Every registered session.
    sessoes: HashMap<SessaoId, Sessao>,
    /// Lines per department; a department exists while someone waits in it or an agent serves it.
    departamentos: HashMap<String, Departamento>,
    /// Lowercased names of connected agents (rule 10: no two agents share a name).
    nomes_atendentes: HashSet<String>,
    /// Departments whose line changed since the last tick (positions or length).
    departamentos_alterados: HashSet<String>,
    /// Next customer arrival number (orders customers).
    proxima_chegada: u64,
    /// Next idle number (orders free agents).
    proximo_ocio: u64,
    /// The last conversation id given out.
    proxima_conversa: u64,
    /// Resumable sessions by their secret's digest (`retomada::resumo`; only when
    /// [`Parametros::tolerancia`] is set).
    fichas: HashMap<Ficha, SessaoId>,
    /// Suspended sessions as (grace deadline, session), earliest first; an entry whose session
    /// was resumed or removed meanwhile is skipped.
    prazos: VecDeque<(Duration, SessaoId)>,
    /// Sessions the broker ended while they were suspended (a customer whose agent ended the
    /// chat), kept with their last frames until their grace deadline, so that a resume still
    /// delivers the end.
    lapides: HashMap<SessaoId, Box<Retomavel>>,
}

/// One department's two lines.
#[derive(Debug, Default)]
struct Departamento {
    /// Waiting customers as (arrival number, session), sorted by arrival number.
    fila_clientes: VecDeque<(u64, SessaoId)>,
    /// Free agents serving this department as (idle number, session); the first is the one idle
    /// the longest.
    fila_atendentes: BTreeSet<(u64, SessaoId)>,
    /// The smallest index in `fila_clientes` whose position may have changed since the last tick.
    alterada_desde: Option<usize>,
    /// Every connected agent who serves this department (free, paused or chatting).
    atendentes: BTreeSet<SessaoId>,
}

/// One registered session.
#[derive(Debug)]
struct Sessao {
    /// The trimmed name, shown to partners.
    nome: String,
    /// Customer or agent, with what that role needs.
    papel: PapelSessao,
    /// Waiting, free or chatting.
    estado: Estado,
    /// The highest chat line `seq` handled from this session (duplicates at or below it are
    /// confirmed again, never relayed twice).
    ultima_aceita: u64,
    /// Lines relayed so far in its current chat (both ways), which is also the number the
    /// history gives the last of them.
    linhas: u64,
    /// What resuming the session needs (only when [`Parametros::tolerancia`] is set).
    retomada: Option<Box<Retomavel>>,
}

/// The role-specific part of a session.
#[derive(Debug)]
enum PapelSessao {
    /// A customer.
    Cliente {
        /// Its (normalized) department.
        departamento: String,
        /// Its arrival number, kept across re-queues so it never loses its turn.
        chegada: u64,
        /// When it joined (broker uptime), to tell how long it waited.
        entrou_em: Duration,
        /// The last position sent to it (0: none yet).
        posicao_informada: u32,
    },
    /// An agent.
    Atendente {
        /// The (normalized, distinct) departments it serves.
        departamentos: Vec<String>,
        /// Whether it asked to pause (it takes no new customer until it resumes).
        pausado: bool,
        /// The last count of waiting customers sent to it.
        espera_informada: u32,
    },
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Estado {
    /// A customer in its department's line.
    Aguardando,
    /// An agent in the free lines of its departments since the given idle number.
    Livre {
        /// Its idle number.
        ocio: u64,
    },
    /// A paused agent in no chat, or a suspended agent who is not chatting: in no line at all.
    Pausado,
    /// In a chat.
    EmConversa {
        /// The other side.
        parceiro: SessaoId,
        /// The conversation's id.
        conversa: u64,
    },
}

impl Matchmaker {
    /// An empty broker with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty broker with the given limits.
    pub fn com_parametros(parametros: Parametros) -> Self {
        Matchmaker {
            proxima_conversa: parametros.ultima_conversa,
            parametros,
            ..Self::default()
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
        self.reter(&efeitos);
        self.anotar(&mut efeitos);
        efeitos
    }

    /// Ends the grace period of every suspended session whose deadline is past `agora` (rules 7
    /// and 9 then apply), then sends every waiting customer whose position changed since the
    /// last tick its new position, and every agent whose departments' waiting count changed
    /// the new count.
    pub fn tick(&mut self, agora: Duration) -> Vec<Efeito> {
        let mut efeitos = Vec::new();
        self.expirar(agora, &mut efeitos);
        let mut atendentes = BTreeSet::new();
        for nome in self.departamentos_alterados.drain() {
            let Some(departamento) = self.departamentos.get_mut(&nome) else {
                continue;
            };
            atendentes.extend(departamento.atendentes.iter().copied());
            let Some(desde) = departamento.alterada_desde.take() else {
                continue;
            };
            for (indice, &(_, cliente)) in departamento.fila_clientes.iter().enumerate().skip(desde)
            {
                let posicao = posicao_de(indice);
                if let Some(Sessao {
                    papel:
                        PapelSessao::Cliente {
                            posicao_informada, ..
                        },
                    ..
                }) = self.sessoes.get_mut(&cliente)
                    && *posicao_informada != posicao
                {
                    *posicao_informada = posicao;
                    efeitos.push(Efeito::Enviar {
                        para: cliente,
                        quadro: DoBroker::Fila { posicao },
                    });
                }
            }
        }
        for atendente in atendentes {
            self.informar_espera(atendente, false, &mut efeitos);
        }
        self.reter(&efeitos);
        self.anotar(&mut efeitos);
        efeitos
    }

    /// The broker is shutting down at `agora`: records the end of every open conversation in the
    /// history (when it is kept), and that no session is left (when journaled). The sessions
    /// themselves are the caller's to tell and close.
    pub fn encerrar(&self, agora: Duration) -> Vec<Efeito> {
        let mut efeitos = Vec::new();
        let mut abertas: Vec<u64> = self
            .sessoes
            .values()
            .filter(|sessao| matches!(sessao.papel, PapelSessao::Cliente { .. }))
            .filter_map(|sessao| match sessao.estado {
                Estado::EmConversa { conversa, .. } => Some(conversa),
                _ => None,
            })
            .collect();
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
        let dados = self.sessoes.get(&sessao)?;
        Some(match (dados.estado, &dados.papel) {
            (
                Estado::Aguardando,
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    ..
                },
            ) => Situacao::Aguardando {
                departamento,
                posicao: self.departamentos[departamento]
                    .indice_de(*chegada)
                    .map_or(0, |i| i + 1),
            },
            (Estado::Livre { .. }, _) => Situacao::Livre,
            (Estado::Pausado, _) => Situacao::Pausado,
            (Estado::EmConversa { parceiro, conversa }, _) => {
                Situacao::EmConversa { parceiro, conversa }
            }
            (Estado::Aguardando, PapelSessao::Atendente { .. }) => {
                unreachable!("agents never wait in a customer line")
            }
        })
    }

    /// The customers waiting in a department's line, head first.
    pub fn fila_clientes(&self, departamento: &str) -> Vec<SessaoId> {
        self.departamentos
            .get(departamento)
            .map(|d| d.fila_clientes.iter().map(|&(_, s)| s).collect())
            .unwrap_or_default()
    }

    /// Every free agent, the one idle the longest first.
    pub fn fila_atendentes(&self) -> Vec<SessaoId> {
        let mut livres: Vec<(u64, SessaoId)> = self
            .sessoes
            .iter()
            .filter_map(|(&id, s)| match s.estado {
                Estado::Livre { ocio } => Some((ocio, id)),
                _ => None,
            })
            .collect();
        livres.sort_unstable();
        livres.into_iter().map(|(_, id)| id).collect()
    }

    /// How many sessions are registered.
    pub fn sessoes(&self) -> usize {
        self.sessoes.len()
    }

    /// Checks that the internal indexes agree with each other and with the design's invariants;
    /// returns the first disagreement found. Meant for tests, after every event.
    pub fn checar_invariantes(&self) -> Result<(), String> {
        let mut nomes = HashSet::new();
        for (&id, sessao) in &self.sessoes {
            match (&sessao.papel, sessao.estado) {
                (
                    PapelSessao::Cliente {
                        departamento,
                        chegada,
                        ..
                    },
                    Estado::Aguardando,
                ) => {
                    let linha = self
                        .departamentos
                        .get(departamento)
                        .ok_or(format!("cliente {id} numa fila inexistente"))?;
                    if linha.fila_clientes.iter().filter(|e| e.1 == id).count() != 1
                        || linha.indice_de(*chegada).is_none()
                    {
                        return Err(format!("cliente {id} não está uma vez na sua fila"));
                    }
                }
                (PapelSessao::Cliente { .. }, Estado::Livre { .. } | Estado::Pausado) => {
                    return Err(format!("cliente {id} marcado como atendente livre"));
                }
                (PapelSessao::Atendente { .. }, Estado::Aguardando) => {
                    return Err(format!("atendente {id} marcado como aguardando"));
                }
                (
                    PapelSessao::Atendente {
                        departamentos,
                        pausado,
                        ..
                    },
                    estado,
                ) => {
                    if !nomes.insert(sessao.nome.to_lowercase()) {
                        return Err(format!("nome de atendente repetido: {}", sessao.nome));
                    }
                    if estado == Estado::Pausado && !*pausado && !sessao.suspensa() {
                        return Err(format!("atendente {id} parado sem ter pedido pausa"));
                    }
                    if *pausado && matches!(estado, Estado::Livre { .. }) {
                        return Err(format!("atendente {id} pausado entre os livres"));
                    }
                    for departamento in departamentos {
                        let linha = self
                            .departamentos
                            .get(departamento)
                            .ok_or(format!("atendente {id} sem departamento {departamento}"))?;
                        if !linha.atendentes.contains(&id) {
                            return Err(format!("{departamento} não conhece o atendente {id}"));
                        }
                        let livre = matches!(estado, Estado::Livre { ocio }
                            if linha.fila_atendentes.contains(&(ocio, id)));
                        if livre != matches!(estado, Estado::Livre { .. }) {
                            return Err(format!("atendente {id} fora da fila de livres"));
                        }
                    }
                }
                (PapelSessao::Cliente { .. }, Estado::EmConversa { .. }) => {}
            }
            if let Estado::EmConversa { parceiro, conversa } = sessao.estado {
                let outro = self
                    .sessoes
                    .get(&parceiro)
                    .ok_or(format!("{id} conversa com {parceiro}, que não existe"))?;
                if outro.estado
                    != (Estado::EmConversa {
                        parceiro: id,
                        conversa,
                    })
                {
                    return Err(format!("par {id}-{parceiro} não é simétrico"));
                }
                if matches!(outro.papel, PapelSessao::Cliente { .. })
                    == matches!(sessao.papel, PapelSessao::Cliente { .. })
                {
                    return Err(format!("par {id}-{parceiro} não é cliente com atendente"));
                }
            }
        }
        for (ficha, id) in &self.fichas {
            let indexada = self
                .sessoes
                .get(id)
                .and_then(|sessao| sessao.retomada.as_deref())
                .or(self.lapides.get(id).map(|lapide| &**lapide))
                .is_some_and(|retomada| retomada.ficha() == ficha);
            if !indexada {
                return Err(format!("ficha da sessão {id} desatualizada"));
            }
        }
        if self.lapides.keys().any(|id| self.sessoes.contains_key(id)) {
            return Err("sessão encerrada ainda registrada".into());
        }
        let retomaveis = self.sessoes.values().filter(|s| s.retomada.is_some());
        if retomaveis.count() + self.lapides.len() != self.fichas.len() {
            return Err("sessão retomável fora do índice de fichas".into());
        }
        if nomes != self.nomes_atendentes {
            return Err("índice de nomes de atendentes desatualizado".into());
        }
        for (nome, linha) in &self.departamentos {
            if !linha.fila_clientes.is_empty() && !linha.fila_atendentes.is_empty() {
                return Err(format!("{nome}: cliente esperando com atendente livre"));
            }
            if linha.fila_clientes.is_empty() && linha.atendentes.is_empty() {
                return Err(format!("{nome}: departamento vazio não foi removido"));
            }
            if !linha.fila_clientes.iter().is_sorted_by_key(|e| e.0) {
                return Err(format!("{nome}: fila fora da ordem de chegada"));
            }
            for &(_, id) in &linha.fila_clientes {
                if self.sessoes.get(&id).map(|s| s.estado) != Some(Estado::Aguardando) {
                    return Err(format!("{nome}: {id} na fila sem estar aguardando"));
                }
            }
            for &(ocio, id) in &linha.fila_atendentes {
                if self.sessoes.get(&id).map(|s| s.estado) != Some(Estado::Livre { ocio }) {
                    return Err(format!("{nome}: {id} entre os livres sem estar livre"));
                }
            }
            for id in &linha.atendentes {
                let serve = matches!(self.sessoes.get(id), Some(Sessao {
                    papel: PapelSessao::Atendente { departamentos, .. }, ..
                }) if departamentos.contains(nome));
                if !serve {
                    return Err(format!("{nome}: {id} listado sem atender o departamento"));
                }
            }
        }
        Ok(())
    }

    fn entrar(
        &mut self,
        id: SessaoId,
        apresentacao: Apresentacao,
        ficha: Ficha,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if self.sessoes.contains_key(&id) {
            return;
        }
        let recusar = |efeitos: &mut Vec<Efeito>, codigo: CodigoErro, texto: String| {
            efeitos.push(Efeito::Enviar {
                para: id,
                quadro: DoBroker::Erro { codigo, texto },
            });
            efeitos.push(Efeito::Fechar { sessao: id });
        };
        let Parametros {
            fila_maxima,
            nome_maximo,
            ..
        } = self.parametros;
        let nome = match validar_nome_ate(&apresentacao.nome, nome_maximo) {
            Ok(nome) => nome,
            Err(erro) => return recusar(efeitos, CodigoErro::NomeInvalido, erro.to_string()),
        };
        let papel = match apresentacao.papel {
            Papel::Cliente { departamento } => {
                match normalizar_departamento_ate(&departamento, nome_maximo) {
                    Ok(departamento)
                        if self
                            .departamentos
                            .get(&departamento)
                            .is_some_and(|d| d.fila_clientes.len() >= fila_maxima) =>
                    {
                        let codigo = CodigoErro::FilaCheia;
                        return recusar(efeitos, codigo, codigo.descricao().to_owned());
                    }
                    Ok(departamento) => {
                        self.proxima_chegada += 1;
                        PapelSessao::Cliente {
                            departamento,
                            chegada: self.proxima_chegada,
                            entrou_em: agora,
                            posicao_informada: 0,
                        }
                    }
                    Err(erro) => {
                        let texto = format!("departamento inválido: {erro}");
                        return recusar(efeitos, CodigoErro::DepartamentoInvalido, texto);
                    }
                }
            }
            Papel::Atendente { departamentos } => {
                let mut normalizados: Vec<String> = Vec::with_capacity(departamentos.len());
                for departamento in &departamentos {
                    match normalizar_departamento_ate(departamento, nome_maximo) {
                        Ok(d) if !normalizados.contains(&d) => normalizados.push(d),
                        Ok(_) => {}
                        Err(erro) => {
                            let texto = format!("departamento inválido: {erro}");
                            return recusar(efeitos, CodigoErro::DepartamentoInvalido, texto);
                        }
                    }
                }
                if normalizados.is_empty() {
                    let texto = "informe ao menos um departamento".to_owned();
                    return recusar(efeitos, CodigoErro::DepartamentoInvalido, texto);
                }
                self.liberar_nome_de_suspenso(&nome, agora, efeitos);
                if !self.nomes_atendentes.insert(nome.to_lowercase()) {
                    let texto = format!("já existe um atendente conectado com o nome {nome}");
                    return recusar(efeitos, CodigoErro::NomeEmUso, texto);
                }
                for departamento in &normalizados {
                    self.departamentos
                        .entry(departamento.clone())
                        .or_default()
                        .atendentes
                        .insert(id);
                }
                PapelSessao::Atendente {
                    departamentos: normalizados,
                    pausado: false,
                    espera_informada: 0,
                }
            }
        };
        let cliente = matches!(papel, PapelSessao::Cliente { .. });
        // An all-zero secret means the actor had no randomness: that session is not resumable.
        let chave = retomada::resumo(&ficha);
        let retomavel = self.parametros.tolerancia > Duration::ZERO
            && ficha != [0; 16]
            && !self.fichas.contains_key(&chave);
        if retomavel {
            self.fichas.insert(chave, id);
        }
        self.sessoes.insert(
            id,
            Sessao {
                nome,
                papel,
                estado: Estado::Aguardando,
                ultima_aceita: 0,
                linhas: 0,
                retomada: retomavel.then(|| Box::new(Retomavel::new(chave))),
            },
        );
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: retomada::bemvindo(
                &self.parametros,
                id,
                if retomavel { ficha } else { [0; 16] },
                false,
                0,
            ),
        });
        if cliente {
            self.colocar_cliente(id, agora, efeitos);
        } else {
            self.informar_espera(id, true, efeitos);
            self.liberar_atendente(id, agora, efeitos);
        }
    }

    fn receber(
        &mut self,
        id: SessaoId,
        quadro: ParaBroker,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.get_mut(&id) else {
            return;
        };
        let erro = |efeitos: &mut Vec<Efeito>, codigo: CodigoErro, texto: &str| {
            efeitos.push(Efeito::Enviar {
                para: id,
                quadro: DoBroker::Erro {
                    codigo,
                    texto: texto.to_owned(),
                },
            });
        };
        let cliente = matches!(sessao.papel, PapelSessao::Cliente { .. });
        match quadro {
            ParaBroker::Apresentacao(_) => {
                let codigo = CodigoErro::ApresentacaoRepetida;
                erro(efeitos, codigo, codigo.descricao());
            }
            // Heartbeats are the connection's business; one that reaches here changes nothing.
            ParaBroker::Pong => {}
            // Acknowledgements are taken before this point.
            ParaBroker::Recebidos { .. } => {}
            ParaBroker::Mensagem {
                conversa,
                texto,
                seq,
            } => {
                let Estado::EmConversa {
                    parceiro,
                    conversa: atual,
                } = sessao.estado
                else {
                    let texto = "você não está em uma conversa; a mensagem não foi entregue";
                    return erro(efeitos, CodigoErro::SemConversa, texto);
                };
                if conversa != atual {
                    let texto = "essa conversa já terminou; a mensagem não foi entregue";
                    return erro(efeitos, CodigoErro::SemConversa, texto);
                }
                if let Err(invalido) = validar_texto_ate(&texto, self.parametros.texto_maximo) {
                    return erro(efeitos, CodigoErro::TextoInvalido, &invalido.to_string());
                }
                sessao.linhas += 1;
                let nome = sessao.nome.clone();
                if let Some(outro) = self.sessoes.get_mut(&parceiro) {
                    outro.linhas += 1;
                }
                if self.parametros.historico {
                    efeitos.push(Efeito::Registrar(Registro::Mensagem {
                        conversa,
                        seq,
                        do_atendente: !cliente,
                        autor: nome.clone(),
                        texto: texto.clone(),
                        em: agora,
                    }));
                }
                efeitos.push(Efeito::Enviar {
                    para: parceiro,
                    quadro: DoBroker::Mensagem { de: nome, texto },
                });
            }
            ParaBroker::Encerrar { .. } | ParaBroker::Sair { .. } if cliente => {
                self.remover(id, true, agora, efeitos)
            }
            ParaBroker::Encerrar { .. } => {
                let Estado::EmConversa { parceiro, conversa } = sessao.estado else {
                    return erro(
                        efeitos,
                        CodigoErro::SemConversa,
                        "não há conversa para encerrar",
                    );
                };
                self.registrar_fim(conversa, MotivoFim::AtendenteEncerrou, agora, efeitos);
                let fim = DoBroker::Fim {
                    motivo: MotivoFim::AtendenteEncerrou,
                };
                efeitos.push(Efeito::Enviar {
                    para: parceiro,
                    quadro: fim.clone(),
                });
                efeitos.push(Efeito::Enviar {
                    para: id,
                    quadro: fim,
                });
                self.encerrar_sessao(parceiro);
                efeitos.push(Efeito::Fechar { sessao: parceiro });
                self.liberar_atendente(id, agora, efeitos);
            }
            ParaBroker::Sair { .. } => self.remover(id, true, agora, efeitos),
            ParaBroker::Pausar { .. } | ParaBroker::Retomar { .. } if cliente => {
                let codigo = CodigoErro::ApenasAtendente;
                erro(efeitos, codigo, codigo.descricao());
            }
            ParaBroker::Pausar { .. } => {
                if let PapelSessao::Atendente { pausado, .. } = &mut sessao.papel {
                    *pausado = true;
                }
                if let Estado::Livre { .. } = sessao.estado {
                    self.ocupar_atendente(id);
                    if let Some(sessao) = self.sessoes.get_mut(&id) {
                        sessao.estado = Estado::Pausado;
                    }
                }
                efeitos.push(Efeito::Enviar {
                    para: id,
                    quadro: DoBroker::Pausa { pausado: true },
                });
            }
            ParaBroker::Retomar { .. } => {
                if let PapelSessao::Atendente { pausado, .. } = &mut sessao.papel {
                    *pausado = false;
                }
                let parado = sessao.estado == Estado::Pausado;
                efeitos.push(Efeito::Enviar {
                    para: id,
                    quadro: DoBroker::Pausa { pausado: false },
                });
                if parado {
                    self.liberar_atendente(id, agora, efeitos);
                }
            }
        }
    }

    /// Takes a session out of the machine: it left (`por_vontade`) or its connection was lost.
    /// Its partner, if any, is told why and becomes free again (an agent, rule 7) or goes back
    /// to the head of its line (a customer, rule 9); one who left on purpose is told goodbye.
    fn remover(
        &mut self,
        id: SessaoId,
        por_vontade: bool,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.esquecer(id) else {
            return;
        };
        let (cliente, departamentos) = match sessao.papel {
            PapelSessao::Cliente {
                departamento,
                chegada,
                ..
            } => {
                if sessao.estado == Estado::Aguardando {
                    self.tirar_da_fila(&departamento, chegada);
                }
                (true, vec![departamento])
            }
            PapelSessao::Atendente { departamentos, .. } => {
                self.nomes_atendentes.remove(&sessao.nome.to_lowercase());
                for nome in &departamentos {
                    if let Some(departamento) = self.departamentos.get_mut(nome) {
                        departamento.atendentes.remove(&id);
                        if let Estado::Livre { ocio } = sessao.estado {
                            departamento.fila_atendentes.remove(&(ocio, id));
                        }
                    }
                }
                (false, departamentos)
            }
        };
        let motivo = match (cliente, por_vontade) {
            (true, true) => MotivoFim::ClienteSaiu,
            (true, false) => MotivoFim::ClienteDesconectou,
            (false, true) => MotivoFim::AtendenteSaiu,
            (false, false) => MotivoFim::AtendenteDesconectou,
        };
        if let Estado::EmConversa { parceiro, conversa } = sessao.estado {
            self.registrar_fim(conversa, motivo, agora, efeitos);
            efeitos.push(Efeito::Enviar {
                para: parceiro,
                quadro: DoBroker::Fim { motivo },
            });
            if cliente {
                self.liberar_atendente(parceiro, agora, efeitos);
            } else {
                self.colocar_cliente(parceiro, agora, efeitos);
            }
        }
        for nome in &departamentos {
            self.remover_departamento_vazio(nome);
        }
        if por_vontade {
            efeitos.push(Efeito::Enviar {
                para: id,
                quadro: DoBroker::Fim { motivo },
            });
        }
        efeitos.push(Efeito::Fechar { sessao: id });
    }

    /// Puts a customer (new, or back after its agent left) into its line, or straight into a
    /// chat with the longest-idle free agent of its department (rules 1, 3 and 9).
    fn colocar_cliente(&mut self, id: SessaoId, agora: Duration, efeitos: &mut Vec<Efeito>) {
        let Some(Sessao {
            papel:
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    posicao_informada,
                    ..
                },
            estado,
            ..
        }) = self.sessoes.get_mut(&id)
        else {
            return;
        };
        let linha = self.departamentos.entry(departamento.clone()).or_default();
        if let Some((_, atendente)) = linha.fila_atendentes.first().copied() {
            self.ocupar_atendente(atendente);
            self.parear(id, atendente, agora, efeitos);
            return;
        }
        *estado = Estado::Aguardando;
        let indice = linha.fila_clientes.partition_point(|e| e.0 < *chegada);
        linha.fila_clientes.insert(indice, (*chegada, id));
        if indice + 1 < linha.fila_clientes.len() {
            linha.marcar_alterada(indice + 1);
        }
        self.departamentos_alterados.insert(departamento.clone());
        let posicao = posicao_de(indice);
        *posicao_informada = posicao;
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: DoBroker::Fila { posicao },
        });
    }

    /// Makes an agent free: it takes the longest-waiting customer among its departments, or
    /// joins the free lines of all of them (rules 1, 3, 7 and 8). A paused agent only stops, and
    /// so does a suspended one: nobody is paired with an agent whose connection is gone.
    fn liberar_atendente(&mut self, id: SessaoId, agora: Duration, efeitos: &mut Vec<Efeito>) {
        let suspensa = self
            .sessoes
            .get(&id)
            .is_some_and(|sessao| sessao.suspensa());
        let Some(Sessao {
            papel:
                PapelSessao::Atendente {
                    departamentos,
                    pausado,
                    ..
                },
            estado,
            ..
        }) = self.sessoes.get_mut(&id)
        else {
            return;
        };
        if *pausado || suspensa {
            *estado = Estado::Pausado;
            return;
        }
        let mais_antigo = departamentos
            .iter()
            .filter_map(|nome| {
                let cabeca = self.departamentos.get(nome)?.fila_clientes.front()?;
                Some((cabeca.0, nome))
            })
            .min();
        if let Some((_, nome)) = mais_antigo {
            let nome = nome.clone();
            let linha = self
                .departamentos
                .get_mut(&nome)
                .expect("the department was just found");
            let (_, cliente) = linha
                .fila_clientes
                .pop_front()
                .expect("the line was just seen non-empty");
            if !linha.fila_clientes.is_empty() {
                linha.marcar_alterada(0);
            }
            self.departamentos_alterados.insert(nome);
            self.parear(cliente, id, agora, efeitos);
            return;
        }
        self.proximo_ocio += 1;
        let ocio = self.proximo_ocio;
        *estado = Estado::Livre { ocio };
        for nome in departamentos.iter() {
            if let Some(linha) = self.departamentos.get_mut(nome) {
                linha.fila_atendentes.insert((ocio, id));
            }
        }
    }

    /// Takes a free agent out of the free lines of all its departments.
    fn ocupar_atendente(&mut self, id: SessaoId) {
        let Some(Sessao {
            papel: PapelSessao::Atendente { departamentos, .. },
            estado: Estado::Livre { ocio },
            ..
        }) = self.sessoes.get(&id)
        else {
            return;
        };
        for nome in departamentos {
            if let Some(linha) = self.departamentos.get_mut(nome) {
                linha.fila_atendentes.remove(&(*ocio, id));
            }
        }
    }

    /// Records the end of a conversation in the history, when it is kept.
    fn registrar_fim(
        &self,
        conversa: u64,
        motivo: MotivoFim,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(Registro::Fim {
                conversa,
                motivo,
                em: agora,
            }));
        }
    }

    /// Starts a chat between a customer and an agent who are in no line (rule 4). Both learn
    /// the customer's department and how long it waited.
    fn parear(
        &mut self,
        cliente: SessaoId,
        atendente: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        self.proxima_conversa += 1;
        let conversa = self.proxima_conversa;
        let Some(Sessao {
            nome: nome_cliente,
            papel:
                PapelSessao::Cliente {
                    departamento,
                    entrou_em,
                    ..
                },
            ..
        }) = self.sessoes.get(&cliente)
        else {
            return;
        };
        let (nome_cliente, departamento, entrou_em) =
            (nome_cliente.clone(), departamento.clone(), *entrou_em);
        let espera_ms =
            u64::try_from(agora.saturating_sub(entrou_em).as_millis()).unwrap_or(u64::MAX);
        let Some(nome_atendente) = self.sessoes.get(&atendente).map(|s| s.nome.clone()) else {
            return;
        };
        for (id, parceiro) in [(cliente, atendente), (atendente, cliente)] {
            if let Some(sessao) = self.sessoes.get_mut(&id) {
                sessao.estado = Estado::EmConversa { parceiro, conversa };
                sessao.linhas = 0;
            }
        }
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(Registro::Inicio {
                conversa,
                departamento: departamento.clone(),
                cliente: nome_cliente.clone(),
                atendente: nome_atendente.clone(),
                entrou_em,
                conectada_em: agora,
            }));
        }
        efeitos.push(Efeito::Enviar {
            para: cliente,
            quadro: DoBroker::Conectado {
                com: nome_atendente,
                conversa,
                departamento: departamento.clone(),
                espera_ms,
            },
        });
        efeitos.push(Efeito::Enviar {
            para: atendente,
            quadro: DoBroker::Conectado {
                com: nome_cliente.clone(),
                conversa,
                departamento,
                espera_ms,
            },
        });
        if self.parametros.historico {
            efeitos.push(Efeito::ConsultarAnteriores {
                para: atendente,
                cliente: nome_cliente,
                conversa,
            });
        }
        // A waiting customer may be suspended (its place is kept): its agent should know.
        if self.suspensa(cliente) {
            efeitos.push(Efeito::Enviar {
                para: atendente,
                quadro: DoBroker::Parceiro { conectado: false },
            });
        }
    }

    /// Sends an agent how many customers wait in its departments, if that changed since it was
    /// last told (or always, when `sempre`).
    fn informar_espera(&mut self, id: SessaoId, sempre: bool, efeitos: &mut Vec<Efeito>) {
        let Some(Sessao {
            papel:
                PapelSessao::Atendente {
                    departamentos,
                    espera_informada,
                    ..
                },
            ..
        }) = self.sessoes.get_mut(&id)
        else {
            return;
        };
        let clientes: usize = departamentos
            .iter()
            .filter_map(|nome| self.departamentos.get(nome))
            .map(|linha| linha.fila_clientes.len())
            .sum();
        let clientes = u32::try_from(clientes).unwrap_or(u32::MAX);
        if sempre || *espera_informada != clientes {
            *espera_informada = clientes;
            efeitos.push(Efeito::Enviar {
                para: id,
                quadro: DoBroker::Espera { clientes },
            });
        }
    }

    /// Removes a waiting customer from its line; everyone behind it moves up.
    fn tirar_da_fila(&mut self, departamento: &str, chegada: u64) {
        let Some(linha) = self.departamentos.get_mut(departamento) else {
            return;
        };
        if let Some(indice) = linha.indice_de(chegada) {
            linha.fila_clientes.remove(indice);
            if indice < linha.fila_clientes.len() {
                linha.marcar_alterada(indice);
            }
            self.departamentos_alterados.insert(departamento.to_owned());
        }
    }

    /// Forgets a department nobody waits in and no agent serves.
    fn remover_departamento_vazio(&mut self, nome: &str) {
        if self
            .departamentos
            .get(nome)
            .is_some_and(|d| d.fila_clientes.is_empty() && d.atendentes.is_empty())
        {
            self.departamentos.remove(nome);
        }
    }
}

impl Departamento {
    /// The index of the waiting customer with this arrival number.
    fn indice_de(&self, chegada: u64) -> Option<usize> {
        let indice = self.fila_clientes.partition_point(|e| e.0 < chegada);
        (self.fila_clientes.get(indice)?.0 == chegada).then_some(indice)
    }

    /// Notes that positions from `indice` on may have changed.
    fn marcar_alterada(&mut self, indice: usize) {
        self.alterada_desde = Some(self.alterada_desde.map_or(indice, |i| i.min(indice)));
    }
}

/// The 1-based position of a line index.
fn posicao_de(indice: usize) -> u32 {
    u32::try_from(indice + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn encerrar_registra_o_fim_das_conversas_abertas() {
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
            registros(&maquina.encerrar(Duration::from_secs(9))),
            [Registro::Fim {
                conversa: 1,
                motivo: MotivoFim::BrokerEncerrando,
                em: Duration::from_secs(9),
            }]
        );
    }
}
