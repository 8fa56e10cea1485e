//! The open conversations: who is in each, how many lines it has had and its latest ones (so an
//! agent it is handed to sees them), and whether its agent has answered yet. [`Conversas`]
//! alone numbers them (ids are never reused, across restarts too: they continue after the
//! highest id the history holds), opens, hands over and closes them, and keeps the deadlines
//! by which an agent must answer (rule 18).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use proto::{DoBroker, Fala, SessaoId, TRANSCRICAO_MAXIMA};

/// Every open conversation.
#[derive(Debug, Default)]
pub(super) struct Conversas {
    /// Open conversations by id.
    abertas: HashMap<u64, Conversa>,
    /// The last id given out.
    ultima: u64,
    /// Chats whose agent has yet to answer, as (deadline, conversation), earliest first; an
    /// entry whose chat ended or was answered meanwhile is skipped.
    prazos: VecDeque<(Duration, u64)>,
    /// Most bytes of the lines a chat keeps (see [`Conversa::guardar`]).
    orcamento: usize,
}

/// One open conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Conversa {
    /// The customer.
    pub(super) cliente: SessaoId,
    /// The agent.
    pub(super) atendente: SessaoId,
    /// Lines relayed in it so far (both ways), which is also the number the history gives the
    /// last of them.
    pub(super) linhas: u64,
    /// Whether the agent has sent a line in it.
    pub(super) respondida: bool,
    /// By when its current agent must answer (an older deadline left in the queue, from before
    /// a transfer, does not count).
    prazo: Option<Duration>,
    /// Its latest lines (at most [`TRANSCRICAO_MAXIMA`], and within the byte budget), oldest
    /// first.
    falas: VecDeque<Fala>,
    /// What `falas` weighs ([`peso`]).
    bytes: usize,
    /// When its current agent took it (broker uptime): how long the agent held it is noted
    /// when it lets it go (rule 20).
    pub(super) desde: Duration,
}

impl Conversa {
    /// A chat that has just started at `desde` (or was restored with `linhas` lines,
    /// `respondida` or not).
    pub(super) fn nova(cliente: SessaoId, atendente: SessaoId, desde: Duration) -> Self {
        Conversa {
            cliente,
            atendente,
            linhas: 0,
            respondida: false,
            prazo: None,
            falas: VecDeque::new(),
            bytes: 0,
            desde,
        }
    }

    /// Keeps a line, forgetting the oldest past [`TRANSCRICAO_MAXIMA`] lines or past
    /// `orcamento` bytes (so that the `Transcricao` an agent it is handed to gets always fits in
    /// a frame).
    pub(super) fn guardar(&mut self, fala: Fala, orcamento: usize) {
        self.bytes += peso(&fala);
        self.falas.push_back(fala);
        while self.falas.len() > TRANSCRICAO_MAXIMA || self.bytes > orcamento {
            let Some(velha) = self.falas.pop_front() else {
                break;
            };
            self.bytes -= peso(&velha);
        }
    }

    /// The chat so far, as an agent it is handed to receives it.
    pub(super) fn transcricao(&self, conversa: u64) -> DoBroker {
        DoBroker::Transcricao {
            conversa,
            omitidas: self.linhas.saturating_sub(self.falas.len() as u64),
            falas: self.falas.iter().cloned().collect(),
        }
    }

    /// The other side of the conversation from `id` (`None` if `id` is in neither side).
    pub(super) fn parceiro_de(&self, id: SessaoId) -> Option<SessaoId> {
        if id == self.cliente {
            Some(self.atendente)
        } else if id == self.atendente {
            Some(self.cliente)
        } else {
            None
        }
    }
}

/// What a line weighs in a transcript: its bytes, and an allowance for its encoding (lengths
/// and flag).
pub(super) fn peso(fala: &Fala) -> usize {
    fala.de.len() + fala.texto.len() + 8
}

impl Conversas {
    /// No conversation open; new ids come after `ultima`; each chat keeps at most `orcamento`
    /// bytes of its latest lines.
    pub(super) fn depois_de(ultima: u64, orcamento: usize) -> Self {
        Conversas {
            ultima,
            orcamento,
            ..Conversas::default()
        }
    }

    /// Opens a conversation between `cliente` and `atendente` at `agora` and returns its new
    /// id; its agent must answer by `prazo`, if one is given.
    pub(super) fn abrir(
        &mut self,
        cliente: SessaoId,
        atendente: SessaoId,
        prazo: Option<Duration>,
        agora: Duration,
    ) -> u64 {
        self.ultima += 1;
        let nova = Conversa::nova(cliente, atendente, agora);
        self.reabrir(self.ultima, nova, prazo);
        self.ultima
    }

    /// Opens a conversation with its id (one restored from the journal, or a new one), with a
    /// deadline for its first answer if it has none yet.
    pub(super) fn reabrir(&mut self, id: u64, mut conversa: Conversa, prazo: Option<Duration>) {
        self.ultima = self.ultima.max(id);
        conversa.prazo = prazo.filter(|_| !conversa.respondida);
        if let Some(prazo) = conversa.prazo {
            self.prazos.push_back((prazo, id));
        }
        self.abertas.insert(id, conversa);
    }

    /// Keeps an id from being given out again (a chat restored while it waits to be taken
    /// over).
    pub(super) fn reservar(&mut self, id: u64) {
        self.ultima = self.ultima.max(id);
    }

    /// Keeps the lines a restored chat had, as [`Conversa::guardar`] does.
    pub(super) fn guardar_em(&self, conversa: &mut Conversa, falas: impl Iterator<Item = Fala>) {
        for fala in falas {
            conversa.guardar(fala, self.orcamento);
        }
    }

    /// Closes a conversation and returns what it was.
    pub(super) fn fechar(&mut self, id: u64) -> Option<Conversa> {
        self.abertas.remove(&id)
    }

    /// An open conversation.
    pub(super) fn get(&self, id: u64) -> Option<&Conversa> {
        self.abertas.get(&id)
    }

    /// Counts and keeps one more line of a conversation; one from the agent answers it.
    pub(super) fn contar_linha(&mut self, id: u64, fala: Fala) {
        if let Some(conversa) = self.abertas.get_mut(&id) {
            conversa.linhas += 1;
            conversa.respondida |= fala.do_atendente;
            conversa.guardar(fala, self.orcamento);
        }
    }

    /// Hands an open conversation to another agent at `agora`, who must answer it by `prazo`.
    pub(super) fn passar(
        &mut self,
        id: u64,
        atendente: SessaoId,
        prazo: Option<Duration>,
        agora: Duration,
    ) {
        if let Some(mut conversa) = self.fechar(id) {
            conversa.atendente = atendente;
            conversa.respondida = false;
            conversa.desde = agora;
            self.reabrir(id, conversa, prazo);
        }
    }

    /// Takes the chats whose answer deadline passed by `agora` without an answer, earliest
    /// first, and of those with the same deadline the lowest id first (the queue holds them in
    /// the order their deadlines were set, which for a chat handed over is not its id's).
    pub(super) fn sem_resposta(&mut self, agora: Duration) -> Vec<u64> {
        let mut vencidas = Vec::new();
        while let Some(&(prazo, id)) = self.prazos.front() {
            if prazo > agora {
                break;
            }
            self.prazos.pop_front();
            let vencida = self
                .get(id)
                .is_some_and(|conversa| !conversa.respondida && conversa.prazo == Some(prazo));
            if vencida {
                vencidas.push((prazo, id));
            }
        }
        vencidas.sort_unstable();
        vencidas.into_iter().map(|(_, id)| id).collect()
    }

    /// Every open conversation, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &Conversa)> + '_ {
        self.abertas.iter().map(|(&id, conversa)| (id, conversa))
    }
}
