//! What a supervisor sees of the lines and the agents ([`Matchmaker::painel`]): per department
//! the line, the longest wait, the estimate and the agents; every agent with what it is doing,
//! for how long, and its chats. The day's figures are not the machine's (it has no calendar):
//! the caller adds them.

use std::collections::BTreeMap;
use std::time::Duration;

use proto::{Painel, PainelAtendente, PainelConversa, PainelDepartamento};

use super::sessoes::{PapelSessao, Sessao, em_ms};
use super::{Efeito, Matchmaker};

impl Matchmaker {
    /// The lines and the agents at `agora`. Departments come in the configured order, then
    /// the others by name; agents by name. `meta_ms` and the day's counts are left at zero.
    pub fn painel(&self, agora: Duration) -> Painel {
        let mut departamentos: BTreeMap<&str, PainelDepartamento> = BTreeMap::new();
        for vista in self.filas.cada() {
            let mut linha = PainelDepartamento {
                nome: vista.nome.to_owned(),
                aguardando: u32::try_from(vista.clientes.len()).unwrap_or(u32::MAX),
                ..PainelDepartamento::default()
            };
            if let Some(&(_, primeiro)) = vista.clientes.front()
                && let Some(PapelSessao::Cliente { entrou_em_ms, .. }) =
                    self.sessoes.get(primeiro).map(|s| &s.papel)
            {
                linha.maior_espera_ms = em_ms(agora).saturating_sub(*entrou_em_ms);
            }
            // With an agent free, a customer arriving now is answered at once.
            let posicao = linha.aguardando.saturating_add(1);
            linha.estimativa_s = match vista.livres.is_empty() {
                true => self.panorama(vista.nome).aviso(posicao).estimativa_s,
                false => Some(0),
            };
            for sessao in vista
                .atendentes
                .iter()
                .filter_map(|&id| self.sessoes.get(id))
            {
                contar_atendente(&mut linha, sessao);
            }
            departamentos.insert(vista.nome, linha);
        }
        for (_, conversa) in self.conversas.iter() {
            if let Some(PapelSessao::Cliente { departamento, .. }) =
                self.sessoes.get(conversa.cliente).map(|s| &s.papel)
            {
                let linha = departamentos
                    .entry(departamento)
                    .or_insert_with(|| vazio(departamento));
                linha.conversas += 1;
            }
        }
        let mut ordenados = Vec::with_capacity(departamentos.len());
        for nome in &self.parametros.departamentos {
            let linha = departamentos.remove(nome.as_str());
            ordenados.push(linha.unwrap_or_else(|| vazio(nome)));
        }
        ordenados.extend(departamentos.into_values());
        let mut atendentes: Vec<PainelAtendente> = self
            .sessoes
            .iter()
            .filter_map(|(_, sessao)| self.atendente_no_painel(sessao, agora))
            .collect();
        atendentes.sort_by(|a, b| a.nome.cmp(&b.nome));
        Painel {
            meta_ms: 0,
            departamentos: ordenados,
            atendentes,
            omitidos: 0,
        }
    }

    /// An agent as the panel shows it (`None` for a customer).
    fn atendente_no_painel(&self, sessao: &Sessao, agora: Duration) -> Option<PainelAtendente> {
        let PapelSessao::Atendente {
            departamentos,
            capacidade,
            conversas,
            estado_desde: (_, desde),
            ..
        } = &sessao.papel
        else {
            return None;
        };
        let conversas = conversas
            .iter()
            .filter_map(|&id| {
                let conversa = self.conversas.get(id)?;
                let cliente = self.sessoes.get(conversa.cliente)?;
                let PapelSessao::Cliente { departamento, .. } = &cliente.papel else {
                    return None;
                };
                Some(PainelConversa {
                    conversa: id,
                    cliente: cliente.nome().to_owned(),
                    departamento: departamento.clone(),
                    ha_ms: em_ms(agora.saturating_sub(conversa.desde)),
                })
            })
            .collect();
        Some(PainelAtendente {
            nome: sessao.nome().to_owned(),
            departamentos: departamentos.clone(),
            capacidade: u8::try_from(*capacidade).unwrap_or(u8::MAX),
            estado: sessao.estado_atendente(),
            ha_ms: em_ms(agora.saturating_sub(*desde)),
            conversas,
        })
    }

    /// Notes, for every agent `efeitos` reach (every change of an agent's state sends it a
    /// frame, or suspends or resumes it), since when it does what it now does.
    pub(super) fn marcar_atendentes(&mut self, efeitos: &[Efeito], agora: Duration) {
        for efeito in efeitos {
            let id = match efeito {
                Efeito::Enviar { para, .. } | Efeito::Reenviar { para, .. } => *para,
                Efeito::Desligar { sessao } | Efeito::Retomar { sessao, .. } => *sessao,
                _ => continue,
            };
            self.sessoes.marcar_atendente(id, agora);
        }
    }
}

/// Counts one of a department's agents in its line of the panel: one away counts nowhere; a
/// paused one in a chat counts as both.
fn contar_atendente(linha: &mut PainelDepartamento, sessao: &Sessao) {
    let PapelSessao::Atendente {
        pausado, conversas, ..
    } = &sessao.papel
    else {
        return;
    };
    if sessao.suspensa() {
        return;
    }
    linha.atendentes_online += 1;
    linha.atendentes_pausados += u32::from(*pausado);
    linha.atendentes_em_conversa += u32::from(!conversas.is_empty());
}

/// A department with nothing in it.
fn vazio(nome: &str) -> PainelDepartamento {
    PainelDepartamento {
        nome: nome.to_owned(),
        ..PainelDepartamento::default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proto::{Apresentacao, EstadoAtendente};

    use crate::matchmaking::{Evento, Matchmaker};

    fn entrar(maquina: &mut Matchmaker, sessao: u64, apresentacao: Apresentacao, agora: u64) {
        let evento = Evento::Entrou {
            sessao,
            apresentacao,
            ficha: [1; 16],
        };
        maquina.aplicar(evento, Duration::from_secs(agora));
    }

    #[test]
    fn com_um_atendente_livre_quem_chega_e_atendido_ja() {
        let mut maquina = Matchmaker::new();
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        entrar(&mut maquina, 1, yuri, 1);
        let painel = maquina.painel(Duration::from_secs(5));
        assert_eq!(painel.departamentos[0].estimativa_s, Some(0));
        assert_eq!(painel.atendentes[0].estado, EstadoAtendente::Livre);
        assert_eq!(painel.atendentes[0].ha_ms, 4_000, "livre desde que entrou");
        entrar(&mut maquina, 2, Apresentacao::cliente("Ana", "geral"), 7);
        let painel = maquina.painel(Duration::from_secs(10));
        let geral = &painel.departamentos[0];
        assert_eq!(
            geral.estimativa_s, None,
            "ninguém livre, e nenhum atendimento medido"
        );
        assert_eq!(geral.conversas, 1);
        assert_eq!(painel.atendentes[0].estado, EstadoAtendente::EmConversa);
        assert_eq!(
            painel.atendentes[0].ha_ms, 3_000,
            "em conversa desde que Ana chegou"
        );
    }
}
