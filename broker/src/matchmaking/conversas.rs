//! The open conversations: who is in each, and how many lines it has had. [`Conversas`] alone
//! numbers them (ids are never reused, across restarts too: they continue after the highest id the
//! history holds) and opens and closes them.

use std::collections::HashMap;

use proto::SessaoId;

/// Every open conversation.
#[derive(Debug, Default)]
pub(super) struct Conversas {
    /// Open conversations by id.
    abertas: HashMap<u64, Conversa>,
    /// The last id given out.
    ultima: u64,
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
}

impl Conversa {
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
            abertas: HashMap::new(),
            ultima,
        }
    }

    /// Opens a conversation between `cliente` and `atendente` and returns its new id.
    pub(super) fn abrir(&mut self, cliente: SessaoId, atendente: SessaoId) -> u64 {
        self.ultima += 1;
        self.abertas.insert(
            self.ultima,
            Conversa {
                cliente,
                atendente,
                linhas: 0,
            },
        );
        self.ultima
    }

    /// Opens again a conversation restored from the journal, keeping its id and line count.
    pub(super) fn reabrir(&mut self, id: u64, conversa: Conversa) {
        self.ultima = self.ultima.max(id);
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

    /// Counts one more line in a conversation.
    pub(super) fn contar_linha(&mut self, id: u64) {
        if let Some(conversa) = self.abertas.get_mut(&id) {
            conversa.linhas += 1;
        }
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
