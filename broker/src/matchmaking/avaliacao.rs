//! The rating (rule 23 of the [module docs](super)): a customer whose agent ended the chat is
//! asked to rate it, and its session ends when it does, leaves, or its time runs out.

use std::time::Duration;

use proto::{CodigoErro, DoBroker, MotivoFim, SessaoId};

use super::regras::erro_com;
use super::sessoes::Estado;
use super::{Efeito, Matchmaker, Registro};

impl Matchmaker {
    /// The agent ended `conversa` (its `Fim` already sent): its customer is asked to rate it
    /// (`Avaliacao`), or, when no rating is asked or the customer is away, its session ends
    /// (`Fim` for no chat; a suspended one keeps it in its tombstone, rule 14).
    pub(super) fn pedir_avaliacao(
        &mut self,
        cliente: SessaoId,
        conversa: u64,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let prazo = self.parametros.prazo_avaliacao;
        if prazo.is_zero() || self.suspensa(cliente) {
            return self.despedir(cliente, MotivoFim::AtendenteEncerrou, efeitos);
        }
        let Some(sessao) = self.sessoes.get_mut(cliente) else {
            return;
        };
        sessao.estado = Estado::Avaliando { conversa };
        self.sessoes
            .aguardar_avaliacao(cliente, agora.saturating_add(prazo));
        // Rounded up: a time under a second is still some time.
        let prazo_s = u32::try_from(prazo.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
        efeitos.push(Efeito::Enviar {
            para: cliente,
            quadro: DoBroker::Avaliacao { conversa, prazo_s },
        });
    }

    /// A customer rates the chat it was asked about: the grade goes to the history and the
    /// session ends. Anything else is refused, and the session goes on.
    pub(super) fn avaliar(
        &mut self,
        id: SessaoId,
        conversa: u64,
        nota: u8,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let pedida = self.sessoes.get(id).map(|s| s.estado) == Some(Estado::Avaliando { conversa });
        if !pedida {
            let texto = "não há atendimento esperando a sua nota";
            return erro_com(efeitos, id, CodigoErro::AvaliacaoInvalida, texto);
        }
        if !(1..=5).contains(&nota) {
            let texto = "a nota vai de 1 a 5";
            return erro_com(efeitos, id, CodigoErro::AvaliacaoInvalida, texto);
        }
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(Registro::Avaliacao {
                conversa,
                nota,
                em: agora,
            }));
        }
        self.despedir(id, MotivoFim::ClienteSaiu, efeitos);
    }

    /// Ends the sessions of the customers whose time to rate ran out by `agora`.
    pub(super) fn encerrar_avaliacoes(&mut self, agora: Duration, efeitos: &mut Vec<Efeito>) {
        for cliente in self.sessoes.avaliacoes_vencidas(agora) {
            self.despedir(cliente, MotivoFim::AtendenteEncerrou, efeitos);
        }
    }

    /// Ends a customer's session outside any chat: `Fim` for no chat, then the close (a
    /// suspended customer keeps both in its tombstone, for its resume).
    fn despedir(&mut self, cliente: SessaoId, motivo: MotivoFim, efeitos: &mut Vec<Efeito>) {
        efeitos.push(Efeito::Enviar {
            para: cliente,
            quadro: DoBroker::Fim {
                conversa: 0,
                motivo,
            },
        });
        self.sessoes.sepultar(cliente);
        efeitos.push(Efeito::Fechar { sessao: cliente });
    }
}
