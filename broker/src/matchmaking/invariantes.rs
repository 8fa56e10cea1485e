//! What must hold after every event: each room's own consistency, then the agreement between
//! rooms (each session in exactly one place, chats symmetric, lines holding exactly the sessions
//! that say they wait or are free). The tests call [`Matchmaker::checar_invariantes`] after every
//! event they apply.

use proto::SessaoId;

use super::Matchmaker;
use super::filas::VistaDepartamento;
use super::sessoes::{Estado, PapelSessao, Sessao};

impl Matchmaker {
    /// Checks that the internal indexes agree with each other and with the rules' invariants;
    /// returns the first disagreement found. Meant for tests, after every event.
    pub fn checar_invariantes(&self) -> Result<(), String> {
        self.filas.checar()?;
        self.sessoes.checar()?;
        for (id, sessao) in self.sessoes.iter() {
            self.checar_lugar(id, sessao)?;
            self.checar_conversa(id, sessao)?;
        }
        for (conversa, aberta) in self.conversas.iter() {
            for id in [aberta.cliente, aberta.atendente] {
                if !self
                    .sessoes
                    .get(id)
                    .is_some_and(|s| s.tem_conversa(conversa))
                {
                    return Err(format!("conversa {conversa}: {id} não está nela"));
                }
            }
        }
        self.filas
            .cada()
            .try_for_each(|linha| self.checar_linha(&linha))
    }

    /// A session's place agrees with its role and with the lines.
    fn checar_lugar(&self, id: SessaoId, sessao: &Sessao) -> Result<(), String> {
        match (&sessao.papel, sessao.estado) {
            (
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    transferida,
                    na_espera,
                    ..
                },
                Estado::Aguardando,
            ) => {
                let vezes = self.filas.clientes(departamento).filter(|&c| c == id);
                if vezes.count() != 1 || self.filas.posicao(departamento, *chegada).is_none() {
                    return Err(format!("cliente {id} não está uma vez na sua fila"));
                }
                if let Some(pendente) = transferida
                    && self.conversas.get(pendente.0).is_some()
                {
                    return Err(format!("conversa {} à espera e aberta", pendente.0));
                }
                if na_espera.len() > proto::NA_ESPERA_MAXIMO {
                    return Err(format!("cliente {id} com recados demais"));
                }
            }
            (
                PapelSessao::Cliente { .. },
                Estado::Livre { .. } | Estado::Parado | Estado::Lotado,
            ) => {
                return Err(format!("cliente {id} marcado como atendente livre"));
            }
            (PapelSessao::Atendente { .. }, Estado::Aguardando | Estado::EmConversa { .. }) => {
                return Err(format!("atendente {id} marcado como cliente"));
            }
            (
                PapelSessao::Atendente {
                    departamentos,
                    capacidade,
                    conversas,
                    pausado,
                    ..
                },
                estado,
            ) => {
                let vez = estado.vez(id);
                let disponivel = !*pausado && !sessao.suspensa();
                let carga = conversas.len();
                let esperado = match (disponivel, carga < *capacidade) {
                    (false, _) => matches!(estado, Estado::Parado),
                    (true, true) => matches!(estado, Estado::Livre { carga: c, .. } if c == carga),
                    (true, false) => estado == Estado::Lotado,
                };
                if !esperado || carga > *capacidade {
                    return Err(format!("atendente {id}: {estado:?} com {carga} conversas"));
                }
                for departamento in departamentos {
                    let (listado, livre) = self.filas.lista_atendente(departamento, id, vez);
                    if !listado {
                        return Err(format!("{departamento} não conhece o atendente {id}"));
                    }
                    if livre != vez.is_some() {
                        return Err(format!("atendente {id} fora da fila de livres"));
                    }
                }
            }
            (
                PapelSessao::Cliente {
                    transferida: Some(_),
                    ..
                },
                Estado::EmConversa { .. },
            ) => {
                return Err(format!("cliente {id} em conversa com outra à espera"));
            }
            (PapelSessao::Cliente { na_espera, .. }, Estado::EmConversa { .. })
                if !na_espera.is_empty() =>
            {
                return Err(format!(
                    "cliente {id} em conversa com recados não entregues"
                ));
            }
            (PapelSessao::Cliente { .. }, Estado::EmConversa { .. }) => {}
            (
                PapelSessao::Cliente {
                    transferida,
                    na_espera,
                    ..
                },
                Estado::Avaliando { conversa },
            ) => {
                if transferida.is_some() || !na_espera.is_empty() {
                    return Err(format!("cliente {id} avaliando com algo à espera"));
                }
                if self.conversas.get(conversa).is_some() {
                    return Err(format!("conversa {conversa} em avaliação e aberta"));
                }
            }
        }
        Ok(())
    }

    /// A session in chats is on its side of each, and each is open.
    fn checar_conversa(&self, id: SessaoId, sessao: &Sessao) -> Result<(), String> {
        for conversa in sessao.conversas() {
            let aberta = self
                .conversas
                .get(conversa)
                .ok_or(format!("{id} numa conversa {conversa} que não está aberta"))?;
            let lado = if sessao.cliente() {
                aberta.cliente
            } else {
                aberta.atendente
            };
            if lado != id {
                return Err(format!("conversa {conversa} não é cliente com atendente"));
            }
        }
        Ok(())
    }

    /// A line holds exactly the sessions that say they wait or are free in it.
    fn checar_linha(&self, linha: &VistaDepartamento<'_>) -> Result<(), String> {
        let nome = linha.nome;
        for &(_, id) in linha.clientes {
            if self.sessoes.get(id).map(|s| s.estado) != Some(Estado::Aguardando) {
                return Err(format!("{nome}: {id} na fila sem estar aguardando"));
            }
        }
        for &(carga, ocio, id) in linha.livres {
            if self.sessoes.get(id).map(|s| s.estado) != Some(Estado::Livre { carga, ocio }) {
                return Err(format!("{nome}: {id} entre os livres sem estar livre"));
            }
        }
        for &id in linha.atendentes {
            let serve = matches!(self.sessoes.get(id), Some(Sessao {
                papel: PapelSessao::Atendente { departamentos, .. }, ..
            }) if departamentos.iter().any(|d| d == nome));
            if !serve {
                return Err(format!("{nome}: {id} listado sem atender o departamento"));
            }
        }
        Ok(())
    }
}
