//! The lines of the reference models, in the design's plainest form: each department's waiting
//! customers in the order they are served, and the free agents, longest idle first. Both model
//! tests of the state machine (with and without resumes) keep their lines here, so the rules of
//! who goes where are written once.

use std::collections::BTreeMap;

use proto::SessaoId;

/// Waiting customers per department, and free agents.
#[derive(Debug, Clone, Default)]
pub struct Filas {
    /// Waiting customers per department, in the order they are served.
    pub filas: BTreeMap<String, Vec<SessaoId>>,
    /// Agents with room, longest idle first (an agent whose number of chats changes goes to
    /// the back).
    pub livres: Vec<SessaoId>,
}

impl Filas {
    /// Takes out of the free line the agent for which `serve` holds with the fewest open chats
    /// (`carga`) and, of those, idle the longest (rule 3).
    pub fn tomar_livre(
        &mut self,
        serve: impl Fn(SessaoId) -> bool,
        carga: impl Fn(SessaoId) -> usize,
    ) -> Option<SessaoId> {
        let (indice, _) = self
            .livres
            .iter()
            .enumerate()
            .filter(|&(_, &a)| serve(a))
            .min_by_key(|&(i, &a)| (carga(a), i))?;
        Some(self.livres.remove(indice))
    }

    /// The agents with room in the order they get customers: fewest chats first, then idle
    /// the longest.
    pub fn livres_em_ordem(&self, carga: impl Fn(SessaoId) -> usize) -> Vec<SessaoId> {
        let mut livres = self.livres.clone();
        livres.sort_by_key(|&a| carga(a));
        livres
    }

    /// Puts `cliente` in `departamento`'s line at the place its arrival `chegada` gives it (rules
    /// 1 and 9), given every waiting customer's arrival; returns its 0-based index.
    pub fn entrar(
        &mut self,
        departamento: &str,
        cliente: SessaoId,
        chegada: u64,
        chegada_de: impl Fn(SessaoId) -> u64,
    ) -> usize {
        let fila = self.filas.entry(departamento.to_owned()).or_default();
        let indice = fila
            .iter()
            .position(|&s| chegada_de(s) > chegada)
            .unwrap_or(fila.len());
        fila.insert(indice, cliente);
        indice
    }

    /// Takes out of its line the customer who arrived first among the heads of `departamentos`'
    /// lines (rule 1).
    pub fn tomar_cliente(
        &mut self,
        departamentos: &[String],
        chegada_de: impl Fn(SessaoId) -> u64,
    ) -> Option<SessaoId> {
        let cliente = departamentos
            .iter()
            .filter_map(|d| self.filas.get(d)?.first().copied())
            .min_by_key(|&c| chegada_de(c))?;
        self.retirar(cliente);
        Some(cliente)
    }

    /// Takes a session out of every line.
    pub fn retirar(&mut self, sessao: SessaoId) {
        for fila in self.filas.values_mut() {
            fila.retain(|&s| s != sessao);
        }
        self.livres.retain(|&s| s != sessao);
    }
}
