//! What the supervisor's figures count: the rules report arrivals, answers, abandonments,
//! handling times and transfers here as [`Medida`]s (with [`Parametros::medidas`]), and a
//! customer's first wait, once it is over, as a history record (with
//! [`Parametros::historico`]).
//!
//! A customer's wait is counted once, from its arrival to its first agent: going back to the
//! line later (its agent left, or handed the chat to a department) does not count again.
//!
//! [`Parametros::medidas`]: super::Parametros::medidas
//! [`Parametros::historico`]: super::Parametros::historico

use std::time::Duration;

use proto::SessaoId;

use super::sessoes::PapelSessao;
use super::{Efeito, Matchmaker, Medida, Registro};

impl Matchmaker {
    /// Keeps `medida` for the next [`Matchmaker::tirar_medidas`], when they are collected.
    pub(super) fn medir(&mut self, medida: Medida) {
        if self.parametros.medidas {
            self.medidas.push(medida);
        }
    }

    /// Everything measured since the last call, in order.
    pub fn tirar_medidas(&mut self) -> Vec<Medida> {
        std::mem::take(&mut self.medidas)
    }

    /// A new customer arrived (its wait is open from its session's start).
    pub(super) fn contar_chegada(&mut self, cliente: SessaoId) {
        if let Some(PapelSessao::Cliente { departamento, .. }) =
            self.sessoes.get(cliente).map(|s| &s.papel)
        {
            let departamento = departamento.clone();
            self.medir(Medida::Chegada { departamento });
        }
    }

    /// The chat of `cliente` moves on from its agent: handed over, or not answered in time.
    pub(super) fn contar_transferencia(&mut self, cliente: SessaoId, sem_resposta: bool) {
        if let Some(PapelSessao::Cliente { departamento, .. }) =
            self.sessoes.get(cliente).map(|s| &s.papel)
        {
            let departamento = departamento.clone();
            self.medir(Medida::Transferencia {
                departamento,
                sem_resposta,
            });
        }
    }

    /// A customer whose wait was open gets its first agent at `agora`.
    pub(super) fn atender_espera(
        &mut self,
        cliente: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.get(cliente) else {
            return;
        };
        let PapelSessao::Cliente {
            departamento,
            entrou_em_ms,
            ..
        } = &sessao.papel
        else {
            return;
        };
        let (departamento, nome, entrou_em_ms) = (
            departamento.clone(),
            sessao.nome().to_owned(),
            *entrou_em_ms,
        );
        self.terminar_espera((&departamento, &nome, entrou_em_ms), true, agora, efeitos);
    }

    /// A customer's open wait ends at `agora`: answered or, when not `atendida`, abandoned.
    /// `espera` is its department, its name and when it joined (uptime, in milliseconds).
    pub(super) fn terminar_espera(
        &mut self,
        (departamento, cliente, entrou_em_ms): (&str, &str, u64),
        atendida: bool,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let entrou_em = Duration::from_millis(entrou_em_ms);
        let espera = agora.saturating_sub(entrou_em);
        let departamento = departamento.to_owned();
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(Registro::FimDeEspera {
                departamento: departamento.clone(),
                cliente: cliente.to_owned(),
                entrou_em,
                terminou_em: agora,
                atendida,
            }));
        }
        self.medir(if atendida {
            Medida::Atendido {
                departamento,
                espera,
            }
        } else {
            Medida::Abandono {
                departamento,
                espera,
            }
        });
    }
}
