//! The sessions: every registered session with its role and state, and the indexes over them
//! that [`Sessoes`] alone keeps in step: agents' names (no two agents share one), resume secrets,
//! tombstones, and grace deadlines.
//!
//! A session's name and its resume bookkeeping are private to this module, because the indexes
//! follow them; its role and state are the rules' to change.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use proto::{DoBroker, EstadoAtendente, Ficha, SessaoId};

use super::Efeito;
use super::conversas::Conversa;
use super::estimativas::AvisoFila;
use super::filas::Vez;

/// Most numbered frames kept for one session that its peer has not acknowledged. Past it the
/// oldest are dropped, and a resume that would need them is refused.
pub const RETIDOS_MAXIMO: usize = 4096;

/// Every session, with its indexes.
#[derive(Debug, Default)]
pub(super) struct Sessoes {
    /// Every registered session.
    tabela: HashMap<SessaoId, Sessao>,
    /// Lowercased names of registered agents (rule 10).
    nomes_atendentes: HashSet<String>,
    /// Resumable sessions and tombstones by their secret's digest.
    fichas: HashMap<Ficha, SessaoId>,
    /// Sessions the broker ended while they were suspended (a customer whose agent ended the
    /// chat), kept with their last frames until their grace deadline, so that a resume still
    /// delivers the end.
    lapides: HashMap<SessaoId, Box<Retomavel>>,
    /// Suspended sessions and tombstones as (grace deadline, session), earliest first; an entry
    /// whose session was resumed or removed meanwhile is skipped.
    prazos: VecDeque<(Duration, SessaoId)>,
    /// Customers asked to rate their chat, as (deadline, session), earliest first; an entry
    /// whose session rated or left meanwhile is skipped.
    avaliacoes: VecDeque<(Duration, SessaoId)>,
}

/// One registered session.
#[derive(Debug)]
pub(super) struct Sessao {
    /// The trimmed name, shown to partners.
    nome: String,
    /// Customer or agent, with what that role needs.
    pub(super) papel: PapelSessao,
    /// Waiting, free, stopped or chatting.
    pub(super) estado: Estado,
    /// The highest `seq` handled from this session (a line or command at or below it is
    /// confirmed again, never carried out twice).
    pub(super) ultima_aceita: u64,
    /// What resuming the session needs (only when resumes are on).
    retomada: Option<Box<Retomavel>>,
}

/// The role-specific part of a session.
#[derive(Debug)]
pub(super) enum PapelSessao {
    /// A customer.
    Cliente {
        /// Its (normalized) department.
        departamento: String,
        /// Its arrival number, kept across re-queues so it never loses its turn.
        chegada: u64,
        /// When it joined (broker uptime, in milliseconds), to tell how long it waited.
        entrou_em_ms: u64,
        /// The last `Fila` sent to it (place 0: none yet).
        informada: AvisoFila,
        /// The lines it wrote while waiting, for its agent (rule 22).
        na_espera: Recados,
        /// A chat handed to its department that waits, with the customer, for an agent: it
        /// goes on, with its id and lines, with whoever takes the customer.
        transferida: Option<Box<(u64, Conversa)>>,
        /// Whether its first wait is counted ([`super::Medida::Chegada`]) and not over yet: no
        /// agent has answered it. A customer restored after a crash is not counted.
        espera_aberta: bool,
    },
    /// An agent.
    Atendente {
        /// The (normalized, distinct) departments it serves.
        departamentos: Vec<String>,
        /// How many chats it takes at once (at least 1).
        capacidade: usize,
        /// Its open chats, in the order they started.
        conversas: Vec<u64>,
        /// Whether it asked to pause (it takes no new customer until it comes back).
        pausado: bool,
        /// The last count of waiting customers sent to it.
        espera_informada: u32,
        /// What a supervisor sees it doing, and since when ([`Matchmaker::marcar_atendentes`]).
        ///
        /// [`Matchmaker::marcar_atendentes`]: super::Matchmaker::marcar_atendentes
        estado_desde: (EstadoAtendente, Duration),
    },
}

/// A line a customer wrote while it waited (rule 22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recado {
    /// The text.
    pub(super) texto: String,
    /// When it arrived.
    pub(super) em: Duration,
    /// The customer's number for it (0: unnumbered).
    pub(super) seq: u64,
}

/// A time of the broker's uptime in whole milliseconds, as sessions and the journal keep
/// times.
pub(super) fn em_ms(tempo: Duration) -> u64 {
    u64::try_from(tempo.as_millis()).unwrap_or(u64::MAX)
}

/// A customer's lines written while waiting: most customers write none, so they cost one
/// pointer until the first (a waiting customer's memory is what an idle line costs).
#[derive(Debug, Default)]
#[expect(
    clippy::box_collection,
    reason = "one pointer (8 bytes) in every customer's session, against a Vec's 24"
)]
pub(super) struct Recados(Option<Box<Vec<Recado>>>);

impl Recados {
    /// How many.
    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |recados| recados.len())
    }

    /// Whether there is none.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Recado> {
        self.0.iter().flat_map(|recados| recados.iter())
    }

    /// One more.
    pub(super) fn push(&mut self, recado: Recado) {
        self.0.get_or_insert_with(Box::default).push(recado);
    }
}

impl FromIterator<Recado> for Recados {
    fn from_iter<T: IntoIterator<Item = Recado>>(recados: T) -> Self {
        let recados: Vec<Recado> = recados.into_iter().collect();
        Recados((!recados.is_empty()).then(|| Box::new(recados)))
    }
}

impl IntoIterator for Recados {
    type Item = Recado;
    type IntoIter = std::vec::IntoIter<Recado>;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .map(|recados| *recados)
            .unwrap_or_default()
            .into_iter()
    }
}

/// Where a session is. A customer waits or chats; an agent, whatever chats it has (they are in
/// its role), is free, full or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Estado {
    /// A customer in its department's line.
    Aguardando,
    /// A customer in a chat.
    EmConversa {
        /// The conversation's id.
        conversa: u64,
    },
    /// An agent with room for another chat, in the free lines of its departments: `carga` chats
    /// open since the idle number `ocio` (the lines order agents by both).
    Livre {
        /// Its open chats when it joined the free lines.
        carga: usize,
        /// Its idle number.
        ocio: u64,
    },
    /// An agent with all its places taken: in no free line.
    Lotado,
    /// An agent who paused, or whose connection is gone: in no free line, whatever chats it has.
    Parado,
    /// A customer whose agent ended its chat, asked to rate it (rule 23): in no line, in no
    /// chat, until it rates, leaves or its time runs out.
    Avaliando {
        /// The chat that ended.
        conversa: u64,
    },
}

/// What resuming one session needs.
#[derive(Debug)]
pub(super) struct Retomavel {
    /// The digest of the secret a resume must present (`retomada::resumo`).
    ficha: Ficha,
    /// Numbered frames sent to the session so far.
    pub(super) enviados: u64,
    /// The last numbered frames sent, not yet acknowledged (the last `retidos.len()` of
    /// `enviados`).
    pub(super) retidos: VecDeque<DoBroker>,
    /// When suspended, the end of its grace period.
    pub(super) suspensa_ate: Option<Duration>,
}

impl Estado {
    /// A free agent's turn in the free lines (`None` for any other state).
    pub(super) fn vez(self, id: SessaoId) -> Option<Vez> {
        match self {
            Estado::Livre { carga, ocio } => Some((carga, ocio, id)),
            _ => None,
        }
    }
}

/// A grace deadline that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Vencida {
    /// A tombstone, now forgotten.
    Lapide(SessaoId),
    /// A session still suspended: its drop now counts as leaving.
    Sessao(SessaoId),
}

impl Sessao {
    /// A new session.
    pub(super) fn nova(nome: String, papel: PapelSessao, retomada: Option<Retomavel>) -> Self {
        Sessao {
            nome,
            papel,
            estado: Estado::Aguardando,
            ultima_aceita: 0,
            retomada: retomada.map(Box::new),
        }
    }

    /// A session restored from the journal.
    pub(super) fn restaurada(
        nome: String,
        papel: PapelSessao,
        estado: Estado,
        ultima_aceita: u64,
        retomada: Option<Retomavel>,
    ) -> Self {
        Sessao {
            estado,
            ultima_aceita,
            ..Sessao::nova(nome, papel, retomada)
        }
    }

    /// Its name.
    pub(super) fn nome(&self) -> &str {
        &self.nome
    }

    /// How many chats it takes at once (1 for a customer).
    pub(super) fn capacidade(&self) -> usize {
        match self.papel {
            PapelSessao::Atendente { capacidade, .. } => capacidade,
            PapelSessao::Cliente { .. } => 1,
        }
    }

    /// Whether it is a customer.
    pub(super) fn cliente(&self) -> bool {
        matches!(self.papel, PapelSessao::Cliente { .. })
    }

    /// What resuming it needs, if it is resumable.
    pub(super) fn retomada(&self) -> Option<&Retomavel> {
        self.retomada.as_deref()
    }

    /// The same, to change the counts and kept frames.
    pub(super) fn retomada_mut(&mut self) -> Option<&mut Retomavel> {
        self.retomada.as_deref_mut()
    }

    /// What an agent is doing, as a supervisor's panel says it (a customer counts as free:
    /// never asked).
    pub(super) fn estado_atendente(&self) -> EstadoAtendente {
        match &self.papel {
            _ if self.suspensa() => EstadoAtendente::Ausente,
            PapelSessao::Atendente { pausado: true, .. } => EstadoAtendente::Pausado,
            PapelSessao::Atendente { conversas, .. } if !conversas.is_empty() => {
                EstadoAtendente::EmConversa
            }
            _ => EstadoAtendente::Livre,
        }
    }

    /// Whether the session's connection is gone and it waits for a resume.
    pub(super) fn suspensa(&self) -> bool {
        self.retomada().is_some_and(|r| r.suspensa_ate.is_some())
    }

    /// The chat a customer is in, if any.
    pub(super) fn conversa(&self) -> Option<u64> {
        match self.estado {
            Estado::EmConversa { conversa } => Some(conversa),
            _ => None,
        }
    }

    /// Every chat the session is in: a customer's one, or an agent's.
    pub(super) fn conversas(&self) -> Vec<u64> {
        match &self.papel {
            PapelSessao::Atendente { conversas, .. } => conversas.clone(),
            PapelSessao::Cliente { .. } => self.conversa().into_iter().collect(),
        }
    }

    /// Whether the session is in any chat (without listing them: this is on every line's path).
    pub(super) fn em_conversa(&self) -> bool {
        match &self.papel {
            PapelSessao::Atendente { conversas, .. } => !conversas.is_empty(),
            PapelSessao::Cliente { .. } => self.conversa().is_some(),
        }
    }

    /// Whether `conversa` is one of the session's chats.
    pub(super) fn tem_conversa(&self, conversa: u64) -> bool {
        match &self.papel {
            PapelSessao::Atendente { conversas, .. } => conversas.contains(&conversa),
            PapelSessao::Cliente { .. } => self.conversa() == Some(conversa),
        }
    }
}

impl Retomavel {
    /// A new session's bookkeeping, given its secret's digest.
    pub(super) fn new(ficha: Ficha) -> Self {
        Retomavel {
            ficha,
            enviados: 0,
            retidos: VecDeque::new(),
            suspensa_ate: None,
        }
    }

    /// A restored session's bookkeeping, suspended until `prazo`.
    pub(super) fn restaurada(
        ficha: Ficha,
        enviados: u64,
        retidos: Vec<DoBroker>,
        prazo: Duration,
    ) -> Self {
        let mut retidos = VecDeque::from(retidos);
        retidos.drain(..retidos.len().saturating_sub(RETIDOS_MAXIMO));
        Retomavel {
            ficha,
            enviados,
            retidos,
            suspensa_ate: Some(prazo),
        }
    }

    /// What the journal keeps of it: the secret's digest, the count, the kept frames.
    pub(super) fn salvar(&self) -> (Ficha, u64, Vec<DoBroker>) {
        (
            self.ficha,
            self.enviados,
            self.retidos.iter().cloned().collect(),
        )
    }

    /// The digest of the session's secret.
    pub(super) fn ficha(&self) -> &Ficha {
        &self.ficha
    }

    /// Whether a resume that says it received `recebidos` frames can be served: nothing it
    /// lacks has been dropped, and it claims nothing never sent.
    pub(super) fn aceita(&self, recebidos: u64) -> bool {
        (self.primeiro_retido()..=self.enviados).contains(&recebidos)
    }

    /// The number of the first kept frame minus one: what the peer must have received at least.
    fn primeiro_retido(&self) -> u64 {
        self.enviados - self.retidos.len() as u64
    }

    /// Forgets the kept frames the peer says it has received (up to frame `total`).
    pub(super) fn descartar_ate(&mut self, total: u64) {
        let excesso = total.saturating_sub(self.primeiro_retido());
        let excesso = usize::try_from(excesso).unwrap_or(usize::MAX);
        self.retidos.drain(..excesso.min(self.retidos.len()));
    }

    /// Counts and keeps a numbered frame sent to the session.
    pub(super) fn reter(&mut self, quadro: &DoBroker) {
        self.enviados += 1;
        self.retidos.push_back(quadro.clone());
        if self.retidos.len() > RETIDOS_MAXIMO {
            self.retidos.pop_front();
        }
    }
}

impl Sessoes {
    /// A registered session.
    pub(super) fn get(&self, id: SessaoId) -> Option<&Sessao> {
        self.tabela.get(&id)
    }

    /// A registered session, to change its role's details or its state.
    pub(super) fn get_mut(&mut self, id: SessaoId) -> Option<&mut Sessao> {
        self.tabela.get_mut(&id)
    }

    /// Every registered session.
    pub(super) fn iter(&self) -> impl Iterator<Item = (SessaoId, &Sessao)> + '_ {
        self.tabela.iter().map(|(&id, sessao)| (id, sessao))
    }

    /// How many sessions are registered.
    pub(super) fn len(&self) -> usize {
        self.tabela.len()
    }

    /// Whether an agent with this name (in any case) is registered.
    pub(super) fn nome_em_uso(&self, nome: &str) -> bool {
        self.nomes_atendentes.contains(&nome.to_lowercase())
    }

    /// Whether a session or tombstone holds this secret digest.
    pub(super) fn ficha_em_uso(&self, ficha: &Ficha) -> bool {
        self.fichas.contains_key(ficha)
    }

    /// The session or tombstone holding this secret digest.
    pub(super) fn por_ficha(&self, ficha: &Ficha) -> Option<SessaoId> {
        self.fichas.get(ficha).copied()
    }

    /// Notes, if agent `id` now does something else than it was last seen doing, that it has
    /// done so since `agora`.
    pub(super) fn marcar_atendente(&mut self, id: SessaoId, agora: Duration) {
        let Some(sessao) = self.tabela.get_mut(&id) else {
            return;
        };
        let estado = sessao.estado_atendente();
        if let PapelSessao::Atendente { estado_desde, .. } = &mut sessao.papel
            && estado_desde.0 != estado
        {
            *estado_desde = (estado, agora);
        }
    }

    /// Registers a session, indexing its name (an agent's) and its secret. The caller has
    /// checked that neither is taken.
    pub(super) fn inserir(&mut self, id: SessaoId, sessao: Sessao) {
        if !sessao.cliente() {
            self.nomes_atendentes.insert(sessao.nome.to_lowercase());
        }
        if let Some(retomada) = sessao.retomada() {
            self.fichas.insert(retomada.ficha, id);
        }
        self.tabela.insert(id, sessao);
    }

    /// Registers a session restored from the journal, suspended until its deadline.
    pub(super) fn restaurar(&mut self, id: SessaoId, sessao: Sessao) {
        if let Some(prazo) = sessao.retomada().and_then(|r| r.suspensa_ate) {
            self.prazos.push_back((prazo, id));
        }
        self.inserir(id, sessao);
    }

    /// Removes a session and its index entries.
    pub(super) fn esquecer(&mut self, id: SessaoId) -> Option<Sessao> {
        let sessao = self.tabela.remove(&id)?;
        if !sessao.cliente() {
            self.nomes_atendentes.remove(&sessao.nome.to_lowercase());
        }
        if let Some(retomada) = sessao.retomada() {
            self.fichas.remove(&retomada.ficha);
        }
        Some(sessao)
    }

    /// Lets go of a session the broker ended: one that is suspended is kept as a tombstone,
    /// with its last frames, until its grace deadline.
    pub(super) fn sepultar(&mut self, id: SessaoId) {
        let suspensa = self.tabela.get(&id).is_some_and(Sessao::suspensa);
        let Some(sessao) = self.esquecer(id) else {
            return;
        };
        if let Some(retomada) = sessao.retomada.filter(|_| suspensa) {
            self.fichas.insert(retomada.ficha, id);
            self.lapides.insert(id, retomada);
        }
    }

    /// A customer now asked to rate its chat has until `prazo` (rule 23).
    pub(super) fn aguardar_avaliacao(&mut self, id: SessaoId, prazo: Duration) {
        self.avaliacoes.push_back((prazo, id));
    }

    /// The customers whose time to rate ran out by `agora`, earliest first.
    pub(super) fn avaliacoes_vencidas(&mut self, agora: Duration) -> Vec<SessaoId> {
        let mut vencidas = Vec::new();
        while let Some(&(prazo, id)) = self.avaliacoes.front() {
            if prazo > agora {
                break;
            }
            self.avaliacoes.pop_front();
            let avaliando = self
                .tabela
                .get(&id)
                .is_some_and(|s| matches!(s.estado, Estado::Avaliando { .. }));
            if avaliando {
                vencidas.push(id);
            }
        }
        vencidas
    }

    /// Brings back a tombstone from the journal, until `prazo`.
    pub(super) fn restaurar_lapide(&mut self, id: SessaoId, lapide: Retomavel) {
        if let Some(prazo) = lapide.suspensa_ate {
            self.prazos.push_back((prazo, id));
        }
        self.fichas.insert(lapide.ficha, id);
        self.lapides.insert(id, Box::new(lapide));
    }

    /// A tombstone.
    pub(super) fn lapide(&self, id: SessaoId) -> Option<&Retomavel> {
        self.lapides.get(&id).map(|lapide| &**lapide)
    }

    /// Takes a tombstone away (its peer came back for its end), with its secret.
    pub(super) fn tirar_lapide(&mut self, id: SessaoId) -> Option<Box<Retomavel>> {
        let lapide = self.lapides.remove(&id)?;
        self.fichas.remove(&lapide.ficha);
        Some(lapide)
    }

    /// Suspends a resumable session until `prazo`; returns whether it was not suspended yet.
    pub(super) fn suspender(&mut self, id: SessaoId, prazo: Duration) -> bool {
        let Some(retomada) = self.tabela.get_mut(&id).and_then(Sessao::retomada_mut) else {
            return false;
        };
        if retomada.suspensa_ate.is_some() {
            return false;
        }
        retomada.suspensa_ate = Some(prazo);
        self.prazos.push_back((prazo, id));
        true
    }

    /// Takes the grace deadlines that passed by `agora`, earliest first. Tombstones whose time
    /// is up are forgotten here; sessions still suspended are left for the rules to remove.
    pub(super) fn vencer(&mut self, agora: Duration) -> Vec<Vencida> {
        let mut vencidas = Vec::new();
        while let Some(&(prazo, id)) = self.prazos.front() {
            if prazo > agora {
                break;
            }
            self.prazos.pop_front();
            if self
                .lapide(id)
                .is_some_and(|l| l.suspensa_ate == Some(prazo))
            {
                self.tirar_lapide(id);
                vencidas.push(Vencida::Lapide(id));
                continue;
            }
            let ainda_suspensa = self
                .get(id)
                .and_then(Sessao::retomada)
                .is_some_and(|r| r.suspensa_ate == Some(prazo));
            if ainda_suspensa {
                vencidas.push(Vencida::Sessao(id));
            }
        }
        vencidas
    }

    /// The agent registered under `nome` (in any case), if any.
    pub(super) fn atendente_chamado(&self, nome: &str) -> Option<SessaoId> {
        if !self.nome_em_uso(nome) {
            return None;
        }
        let chave = nome.to_lowercase();
        self.iter().find_map(|(id, sessao)| {
            (!sessao.cliente() && sessao.nome.to_lowercase() == chave).then_some(id)
        })
    }

    /// Counts and keeps the numbered frames among `efeitos` for the sessions (or tombstones)
    /// they go to, when these are resumable.
    pub(super) fn reter(&mut self, efeitos: &[Efeito]) {
        if self.fichas.is_empty() {
            return;
        }
        for efeito in efeitos {
            let Efeito::Enviar { para, quadro } = efeito else {
                continue;
            };
            if !quadro.numerado() {
                continue;
            }
            let retomada = match self.tabela.get_mut(para) {
                Some(sessao) => sessao.retomada_mut(),
                None => self.lapides.get_mut(para).map(|lapide| &mut **lapide),
            };
            if let Some(retomada) = retomada {
                retomada.reter(quadro);
            }
        }
    }

    /// Checks that the indexes agree with the sessions: one name per agent, every secret
    /// indexed once and pointing at its holder, tombstones apart from live sessions.
    pub(super) fn checar(&self) -> Result<(), String> {
        let mut nomes = HashSet::new();
        for sessao in self.tabela.values().filter(|s| !s.cliente()) {
            if !nomes.insert(sessao.nome.to_lowercase()) {
                return Err(format!("nome de atendente repetido: {}", sessao.nome));
            }
        }
        if nomes != self.nomes_atendentes {
            return Err("índice de nomes de atendentes desatualizado".into());
        }
        for (ficha, &id) in &self.fichas {
            let dona = self.get(id).and_then(Sessao::retomada).or(self.lapide(id));
            if dona.is_none_or(|retomada| retomada.ficha() != ficha) {
                return Err(format!("ficha da sessão {id} desatualizada"));
            }
        }
        if self.lapides.keys().any(|id| self.tabela.contains_key(id)) {
            return Err("sessão encerrada ainda registrada".into());
        }
        let retomaveis = self.tabela.values().filter(|s| s.retomada.is_some());
        if retomaveis.count() + self.lapides.len() != self.fichas.len() {
            return Err("sessão retomável fora do índice de fichas".into());
        }
        Ok(())
    }
}
