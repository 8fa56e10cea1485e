//! The open conversations: who is in each, how many lines it has had, and whether its agent has
//! answered yet. [`Conversas`] alone numbers them (ids are never reused, across restarts too:
//! they continue after the highest id the history holds), opens and closes them, and keeps the
//! deadlines by which an agent must answer (rule 18).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use proto::SessaoId;

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
}

/// One open conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Conversa {
    /// A chat that has just started (or was restored with `linhas` lines, `respondida` or not).
    pub(super) fn nova(cliente: SessaoId, atendente: SessaoId) -> Self {
        Conversa {
            cliente,
            atendente,
            linhas: 0,
            respondida: false,
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

impl Conversas {
    /// No conversation open; new ids come after `ultima`.
    pub(super) fn depois_de(ultima: u64) -> Self {
        Conversas {
            ultima,
            ..Conversas::default()
        }
    }

    /// Opens a conversation between `cliente` and `atendente` and returns its new id; its agent
    /// must answer by `prazo`, if one is given.
    pub(super) fn abrir(
        &mut self,
        cliente: SessaoId,
        atendente: SessaoId,
        prazo: Option<Duration>,
    ) -> u64 {
        self.ultima += 1;
        self.reabrir(self.ultima, Conversa::nova(cliente, atendente), prazo);
        self.ultima
    }

    /// Opens a conversation with its id (one restored from the journal, or a new one), with a
    /// deadline for its first answer if it has none yet.
    pub(super) fn reabrir(&mut self, id: u64, conversa: Conversa, prazo: Option<Duration>) {
        self.ultima = self.ultima.max(id);
        if let Some(prazo) = prazo.filter(|_| !conversa.respondida) {
            self.prazos.push_back((prazo, id));
        }
        self.abertas.insert(id, conversa);
    }

    /// Closes a conversation and returns what it was.
    pub(super) fn fechar(&mut self, id: u64) -> Option<Conversa> {
        self.abertas.remove(&id)
    }

    /// An open conversation.
    pub(super) fn get(&self, id: u64) -> Option<&Conversa> {
        self.abertas.get(&id)
    }

    /// Counts one more line in a conversation; one from the agent answers it.
    pub(super) fn contar_linha(&mut self, id: u64, do_atendente: bool) {
        if let Some(conversa) = self.abertas.get_mut(&id) {
            conversa.linhas += 1;
            conversa.respondida |= do_atendente;
        }
    }

    /// Takes the chats whose answer deadline passed by `agora` without an answer, earliest
    /// first.
    pub(super) fn sem_resposta(&mut self, agora: Duration) -> Vec<u64> {
        let mut vencidas = Vec::new();
        while let Some(&(prazo, id)) = self.prazos.front() {
            if prazo > agora {
                break;
            }
            self.prazos.pop_front();
            if self.get(id).is_some_and(|conversa| !conversa.respondida) {
                vencidas.push(id);
            }
        }
        vencidas
    }

    /// Every open conversation's id, in no particular order.
    pub(super) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.abertas.keys().copied()
    }

    /// Every open conversation, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &Conversa)> + '_ {
        self.abertas.iter().map(|(&id, conversa)| (id, conversa))
    }
}
