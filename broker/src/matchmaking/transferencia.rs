//! Handing a chat over (rule 19 of the [module docs](super)): an agent passes one of its chats
//! to a colleague with a free place, at once, or to a department's line, where the customer
//! waits at the place its first arrival gives it. The chat keeps its id, its lines and its
//! history; the first agent's side of it ends with `Fim(Transferido)`.

use std::time::Duration;

use proto::validacao::normalizar_departamento_ate;
use proto::{CodigoErro, Destino, DoBroker, MotivoFim, SessaoId};

use super::regras::erro_com;
use super::sessoes::{Estado, PapelSessao, Sessao};
use super::{Efeito, Matchmaker, Registro};

impl Matchmaker {
    /// The agent `id` hands its chat `conversa` to `destino`; refused (the chat goes on) when
    /// that cannot be.
    pub(super) fn transferir(
        &mut self,
        id: SessaoId,
        conversa: u64,
        destino: Destino,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if !self
            .sessoes
            .get(id)
            .is_some_and(|s| s.tem_conversa(conversa))
        {
            let texto = "essa conversa não está aberta com você";
            return erro_com(efeitos, id, CodigoErro::SemConversa, texto);
        }
        let resultado = match destino {
            Destino::Atendente(nome) => self
                .colega_disponivel(id, &nome)
                .map(|colega| self.passar_a_colega(id, conversa, colega, agora, efeitos)),
            Destino::Departamento(nome) => {
                match normalizar_departamento_ate(&nome, self.parametros.nome_maximo) {
                    Ok(departamento) if !self.departamento_conhecido(&departamento) => {
                        Err(self.departamento_desconhecido(&departamento))
                    }
                    Ok(departamento) => {
                        self.passar_a_fila(id, conversa, departamento, agora, efeitos);
                        Ok(())
                    }
                    Err(erro) => Err(format!("departamento inválido: {erro}")),
                }
            }
        };
        if let Err(texto) = resultado {
            erro_com(efeitos, id, CodigoErro::TransferenciaRecusada, &texto);
        }
    }

    /// The colleague named `nome`, if it can take a chat now; or why not.
    fn colega_disponivel(&self, id: SessaoId, nome: &str) -> Result<SessaoId, String> {
        let nome = nome.trim().trim_start_matches('@');
        let colega = self
            .sessoes
            .atendente_chamado(nome)
            .ok_or_else(|| format!("nenhum atendente chamado {nome} está conectado"))?;
        let sessao = self.sessoes.get(colega).ok_or("atendente desconhecido")?;
        let pausado = matches!(sessao.papel, PapelSessao::Atendente { pausado: true, .. });
        match sessao.estado {
            _ if colega == id => Err("a conversa já é sua".to_owned()),
            Estado::Livre { .. } => Ok(colega),
            Estado::Lotado => Err(format!(
                "{} está com todas as vagas ocupadas",
                sessao.nome()
            )),
            _ if pausado => Err(format!("{} está em pausa", sessao.nome())),
            _ => Err(format!("a conexão de {} caiu", sessao.nome())),
        }
    }

    /// Hands the chat to a colleague with a free place: it goes on at once with the colleague,
    /// who sees the lines so far and must answer in time (rule 18).
    fn passar_a_colega(
        &mut self,
        id: SessaoId,
        conversa: u64,
        colega: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some((cliente, desde)) = self.conversas.get(conversa).map(|c| (c.cliente, c.desde))
        else {
            return;
        };
        self.anotar_atendimento(cliente, desde, None, agora);
        self.contar_transferencia(cliente, false);
        let para = self
            .sessoes
            .get(colega)
            .map(|s| s.nome().to_owned())
            .unwrap_or_default();
        self.largar(id, conversa, &para, agora, efeitos);
        efeitos.push(Efeito::Enviar {
            para: cliente,
            quadro: DoBroker::Transferido { conversa, para },
        });
        let prazo = self.prazo_de_resposta(agora);
        self.conversas.passar(conversa, colega, prazo, agora);
        self.tirar_dos_livres(colega);
        if let Some(Sessao {
            papel: PapelSessao::Atendente { conversas, .. },
            ..
        }) = self.sessoes.get_mut(colega)
        {
            conversas.push(conversa);
        }
        self.apresentar(conversa, true, agora, efeitos);
        self.liberar_atendente(colega, agora, efeitos);
        self.liberar_atendente(id, agora, efeitos);
    }

    /// Hands the chat to a department's line: the customer waits there by its first arrival,
    /// and the chat goes on with whoever takes it (at once, if an agent has a free place).
    fn passar_a_fila(
        &mut self,
        id: SessaoId,
        conversa: u64,
        departamento: String,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(aberta) = self.conversas.fechar(conversa) else {
            return;
        };
        let cliente = aberta.cliente;
        self.anotar_atendimento(cliente, aberta.desde, None, agora);
        self.contar_transferencia(cliente, false);
        self.largar(id, conversa, &departamento, agora, efeitos);
        efeitos.push(Efeito::Enviar {
            para: cliente,
            quadro: DoBroker::Transferido {
                conversa,
                para: departamento.clone(),
            },
        });
        let pendente = (conversa, aberta);
        self.devolver_com_a_conversa(cliente, pendente, Some(departamento), agora, efeitos);
        self.liberar_atendente(id, agora, efeitos);
    }

    /// The first agent lets go of a chat it hands to `para`: the history records the transfer,
    /// the agent gets `Fim(Transferido)` and, out of the free lines, waits for the caller to put
    /// it back to work.
    fn largar(
        &mut self,
        id: SessaoId,
        conversa: u64,
        para: &str,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if self.parametros.historico {
            let de = self.sessoes.get(id).map(|s| s.nome().to_owned());
            efeitos.push(Efeito::Registrar(Registro::Transferencia {
                conversa,
                de: de.unwrap_or_default(),
                para: para.to_owned(),
                sem_resposta: false,
                em: agora,
            }));
        }
        let motivo = MotivoFim::Transferido;
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: DoBroker::Fim { conversa, motivo },
        });
        self.tirar_conversa(id, conversa);
    }
}
