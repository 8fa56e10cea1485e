//! The lines: for each department, the customers waiting in arrival order, the free agents in
//! idle order, and every agent who serves it. [`Filas`] alone changes them, so the indexes
//! (a customer found by its arrival number, a free agent in every line of its departments, the
//! positions that changed since the last tick) always agree.
//!
//! A department exists while someone waits in it or an agent serves it; the last one to leave
//! takes it away.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use proto::SessaoId;

/// A free agent's turn in the free lines: (open chats, idle number, session).
pub(super) type Vez = (usize, u64, SessaoId);

/// Every department's lines.
#[derive(Debug, Default)]
pub(super) struct Filas {
    /// Lines per department.
    departamentos: HashMap<String, Departamento>,
    /// Departments whose line changed since the last tick (positions or length).
    alterados: HashSet<String>,
}

/// One department's two lines.
#[derive(Debug, Default)]
struct Departamento {
    /// Waiting customers as (arrival number, session), sorted by arrival number.
    clientes: VecDeque<(u64, SessaoId)>,
    /// Free agents serving this department at their turns; the first has the fewest chats, and
    /// of those was idle the longest.
    livres: BTreeSet<Vez>,
    /// The smallest index in `clientes` whose position may have changed since the last tick.
    alterada_desde: Option<usize>,
    /// Every connected agent who serves this department (free, paused or chatting).
    atendentes: BTreeSet<SessaoId>,
}

/// What changed in the lines since the last tick.
#[derive(Debug, Default)]
pub(super) struct Alteracoes {
    /// Customers whose position may have changed, with their position now.
    pub(super) posicoes: Vec<(SessaoId, u32)>,
    /// Agents who serve a department whose line changed.
    pub(super) atendentes: BTreeSet<SessaoId>,
}

impl Filas {
    /// How many customers wait in `departamento`.
    pub(super) fn tamanho(&self, departamento: &str) -> usize {
        self.departamentos
            .get(departamento)
            .map_or(0, |linha| linha.clientes.len())
    }

    /// How many customers wait in all of `departamentos`.
    pub(super) fn esperando(&self, departamentos: &[String]) -> usize {
        departamentos.iter().map(|nome| self.tamanho(nome)).sum()
    }

    /// The 1-based position of the customer with arrival number `chegada` in `departamento`.
    pub(super) fn posicao(&self, departamento: &str, chegada: u64) -> Option<u32> {
        let indice = self.departamentos.get(departamento)?.indice_de(chegada)?;
        Some(posicao_de(indice))
    }

    /// The customers waiting in `departamento`, head first.
    pub(super) fn clientes(&self, departamento: &str) -> impl Iterator<Item = SessaoId> + '_ {
        self.departamentos
            .get(departamento)
            .into_iter()
            .flat_map(|linha| linha.clientes.iter().map(|&(_, id)| id))
    }

    /// Every connected agent who serves `departamento` (free, paused or chatting).
    pub(super) fn atendentes_de(&self, departamento: &str) -> impl Iterator<Item = SessaoId> + '_ {
        self.departamentos
            .get(departamento)
            .into_iter()
            .flat_map(|linha| linha.atendentes.iter().copied())
    }

    /// The departments where someone waits.
    pub(super) fn com_clientes(&self) -> impl Iterator<Item = &str> + '_ {
        self.departamentos
            .iter()
            .filter(|(_, linha)| !linha.clientes.is_empty())
            .map(|(nome, _)| nome.as_str())
    }

    /// Every customer waiting in `departamento` with its place, head first.
    pub(super) fn posicoes(&self, departamento: &str) -> Vec<(SessaoId, u32)> {
        self.departamentos
            .get(departamento)
            .into_iter()
            .flat_map(|linha| linha.clientes.iter().enumerate())
            .map(|(indice, &(_, id))| (id, posicao_de(indice)))
            .collect()
    }

    /// The free agent of `departamento` with the fewest chats and, of those, idle the longest.
    pub(super) fn primeiro_livre(&self, departamento: &str) -> Option<SessaoId> {
        let linha = self.departamentos.get(departamento)?;
        linha.livres.first().map(|&(_, _, id)| id)
    }

    /// Puts a customer in its line by its arrival number (ahead of everyone who arrived after
    /// it) and returns its position. Everyone behind it moves back a place.
    pub(super) fn enfileirar(&mut self, departamento: &str, chegada: u64, id: SessaoId) -> u32 {
        let linha = self
            .departamentos
            .entry(departamento.to_owned())
            .or_default();
        let indice = linha.clientes.partition_point(|e| e.0 < chegada);
        linha.clientes.insert(indice, (chegada, id));
        if indice + 1 < linha.clientes.len() {
            linha.marcar_alterada(indice + 1);
        }
        self.alterados.insert(departamento.to_owned());
        posicao_de(indice)
    }

    /// Takes a waiting customer out of its line; everyone behind it moves up.
    pub(super) fn tirar(&mut self, departamento: &str, chegada: u64) {
        let Some(linha) = self.departamentos.get_mut(departamento) else {
            return;
        };
        if let Some(indice) = linha.indice_de(chegada) {
            linha.clientes.remove(indice);
            if indice < linha.clientes.len() {
                linha.marcar_alterada(indice);
            }
            self.alterados.insert(departamento.to_owned());
        }
        self.remover_se_vazio(departamento);
    }

    /// Takes out the customer who has waited longest among `departamentos` (the smallest arrival
    /// number at the head of their lines), if anyone waits.
    pub(super) fn chamar(&mut self, departamentos: &[String]) -> Option<SessaoId> {
        let (_, nome) = departamentos
            .iter()
            .filter_map(|nome| {
                let cabeca = self.departamentos.get(nome)?.clientes.front()?;
                Some((cabeca.0, nome))
            })
            .min()?;
        let linha = self.departamentos.get_mut(nome)?;
        let (_, cliente) = linha.clientes.pop_front()?;
        if !linha.clientes.is_empty() {
            linha.marcar_alterada(0);
        }
        self.alterados.insert(nome.clone());
        Some(cliente)
    }

    /// An agent starts serving `departamentos` (in no free line yet).
    pub(super) fn servir(&mut self, departamentos: &[String], id: SessaoId) {
        for nome in departamentos {
            let linha = self.departamentos.entry(nome.clone()).or_default();
            linha.atendentes.insert(id);
        }
    }

    /// An agent stops serving `departamentos` (and leaves their free lines, if `vez` says it
    /// was free).
    pub(super) fn deixar(&mut self, departamentos: &[String], id: SessaoId, vez: Option<Vez>) {
        for nome in departamentos {
            if let Some(linha) = self.departamentos.get_mut(nome) {
                linha.atendentes.remove(&id);
                if let Some(vez) = vez {
                    linha.livres.remove(&vez);
                }
            }
            self.remover_se_vazio(nome);
        }
    }

    /// A free agent joins the free lines of all its departments at its turn `vez`.
    pub(super) fn livrar(&mut self, departamentos: &[String], vez: Vez) {
        for nome in departamentos {
            if let Some(linha) = self.departamentos.get_mut(nome) {
                linha.livres.insert(vez);
            }
        }
    }

    /// A free agent leaves the free lines of all its departments.
    pub(super) fn ocupar(&mut self, departamentos: &[String], vez: Vez) {
        for nome in departamentos {
            if let Some(linha) = self.departamentos.get_mut(nome) {
                linha.livres.remove(&vez);
            }
        }
    }

    /// Takes what changed since the last call: the positions of the customers behind the first
    /// change of each line, and the agents of every department whose line changed.
    pub(super) fn alteracoes(&mut self) -> Alteracoes {
        let mut alteracoes = Alteracoes::default();
        for nome in self.alterados.drain() {
            let Some(linha) = self.departamentos.get_mut(&nome) else {
                continue;
            };
            alteracoes
                .atendentes
                .extend(linha.atendentes.iter().copied());
            let Some(desde) = linha.alterada_desde.take() else {
                continue;
            };
            let atras = linha.clientes.iter().enumerate().skip(desde);
            alteracoes
                .posicoes
                .extend(atras.map(|(indice, &(_, id))| (id, posicao_de(indice))));
        }
        alteracoes
    }

    /// Whether `id` is listed as serving `departamento`, and whether as free at its turn `vez`.
    pub(super) fn lista_atendente(
        &self,
        departamento: &str,
        id: SessaoId,
        vez: Option<Vez>,
    ) -> (bool, bool) {
        let Some(linha) = self.departamentos.get(departamento) else {
            return (false, false);
        };
        let livre = vez.is_some_and(|vez| linha.livres.contains(&vez));
        (linha.atendentes.contains(&id), livre)
    }

    /// Every department with what each line holds: its name, waiting customers, free agents,
    /// agents serving it.
    pub(super) fn cada(&self) -> impl Iterator<Item = VistaDepartamento<'_>> + '_ {
        self.departamentos
            .iter()
            .map(|(nome, linha)| VistaDepartamento {
                nome,
                clientes: &linha.clientes,
                livres: &linha.livres,
                atendentes: &linha.atendentes,
            })
    }

    /// Checks what the lines alone must hold: each in arrival order, none with a waiting
    /// customer beside a free agent (rule 2), no department left empty.
    pub(super) fn checar(&self) -> Result<(), String> {
        for (nome, linha) in &self.departamentos {
            if !linha.clientes.is_empty() && !linha.livres.is_empty() {
                return Err(format!("{nome}: cliente esperando com atendente livre"));
            }
            if linha.clientes.is_empty() && linha.atendentes.is_empty() {
                return Err(format!("{nome}: departamento vazio não foi removido"));
            }
            if !linha.clientes.iter().is_sorted_by_key(|e| e.0) {
                return Err(format!("{nome}: fila fora da ordem de chegada"));
            }
            if linha
                .livres
                .iter()
                .any(|(_, _, id)| !linha.atendentes.contains(id))
            {
                return Err(format!(
                    "{nome}: atendente livre que não atende o departamento"
                ));
            }
        }
        Ok(())
    }

    /// Forgets a department nobody waits in and no agent serves.
    fn remover_se_vazio(&mut self, nome: &str) {
        if self
            .departamentos
            .get(nome)
            .is_some_and(|d| d.clientes.is_empty() && d.atendentes.is_empty())
        {
            self.departamentos.remove(nome);
        }
    }
}

/// One department's lines, read-only, for the invariants.
pub(super) struct VistaDepartamento<'a> {
    /// Its name.
    pub(super) nome: &'a str,
    /// Waiting customers as (arrival number, session).
    pub(super) clientes: &'a VecDeque<(u64, SessaoId)>,
    /// Free agents at their turns.
    pub(super) livres: &'a BTreeSet<Vez>,
    /// Agents serving it.
    pub(super) atendentes: &'a BTreeSet<SessaoId>,
}

impl Departamento {
    /// The index of the waiting customer with this arrival number.
    fn indice_de(&self, chegada: u64) -> Option<usize> {
        let indice = self.clientes.partition_point(|e| e.0 < chegada);
        (self.clientes.get(indice)?.0 == chegada).then_some(indice)
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
