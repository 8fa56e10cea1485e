//! What sessions are told about the lines (rules 5 and 20): a waiting customer its `Fila` (its
//! place, the agents able to answer, the estimate), an agent its `Espera`; and the handling
//! times the estimates come from.

use std::collections::HashMap;
use std::time::Duration;

use proto::{DoBroker, SessaoId};

use super::estimativas::Panorama;
use super::sessoes::{PapelSessao, Sessao};
use super::{Efeito, Matchmaker, Medida};

impl Matchmaker {
    /// Who can answer `departamento` now and how fast: its agents who are connected and not
    /// paused, their places, and its mean handling time.
    pub(super) fn panorama(&self, departamento: &str) -> Panorama {
        let mut panorama = Panorama {
            media_ms: self.estimativas.media_ms(departamento),
            ..Panorama::default()
        };
        for id in self.filas.atendentes_de(departamento) {
            let Some(sessao) = self.sessoes.get(id) else {
                continue;
            };
            if let PapelSessao::Atendente {
                capacidade,
                pausado: false,
                ..
            } = sessao.papel
                && !sessao.suspensa()
            {
                panorama.atendentes += 1;
                panorama.lugares += capacidade as u64;
            }
        }
        panorama
    }

    /// Sends a waiting customer at `posicao` its `Fila`, if it differs from the last one it was
    /// told (or always, when `sempre`), from its department's panorama (computed, unless
    /// given).
    pub(super) fn informar_fila(
        &mut self,
        id: SessaoId,
        posicao: u32,
        sempre: bool,
        panorama: Option<Panorama>,
        efeitos: &mut Vec<Efeito>,
    ) {
        let panorama = match (panorama, self.sessoes.get(id).map(|s| &s.papel)) {
            (Some(panorama), _) => panorama,
            (None, Some(PapelSessao::Cliente { departamento, .. })) => {
                let agora = self.panorama(departamento);
                self.estimativas.rever(departamento);
                agora
            }
            (None, _) => return,
        };
        let aviso = panorama.aviso(posicao);
        if let Some(Sessao {
            papel: PapelSessao::Cliente { informada, .. },
            ..
        }) = self.sessoes.get_mut(id)
            && (sempre || *informada != aviso)
        {
            *informada = aviso;
            efeitos.push(Efeito::Enviar {
                para: id,
                quadro: DoBroker::Fila {
                    posicao: aviso.posicao,
                    atendentes: aviso.atendentes,
                    estimativa_s: aviso.estimativa_s,
                },
            });
        }
    }

    /// At a tick: tells every customer whose place moved (`posicoes`), and every customer of a
    /// department whose panorama changed, its new `Fila` if it differs from the last.
    pub(super) fn informar_filas(
        &mut self,
        posicoes: Vec<(SessaoId, u32)>,
        efeitos: &mut Vec<Efeito>,
    ) {
        let departamentos: Vec<String> = self.filas.com_clientes().map(str::to_owned).collect();
        let mut panoramas: HashMap<String, Panorama> = HashMap::new();
        let mut a_informar = posicoes;
        for departamento in departamentos {
            let panorama = self.panorama(&departamento);
            if self.estimativas.mudou(&departamento, panorama) {
                a_informar.extend(self.filas.posicoes(&departamento));
            }
            panoramas.insert(departamento, panorama);
        }
        self.estimativas
            .esquecer_vistos(|nome| panoramas.contains_key(nome));
        for (cliente, posicao) in a_informar {
            let panorama = match self.sessoes.get(cliente).map(|s| &s.papel) {
                Some(PapelSessao::Cliente { departamento, .. }) => panoramas.get(departamento),
                _ => None,
            };
            let panorama = panorama.copied();
            self.informar_fila(cliente, posicao, false, panorama, efeitos);
        }
    }

    /// Notes how long an agent held a chat (since `desde`) it now lets go while staying (rule
    /// 20), under the customer's department (given, or the customer's own).
    pub(super) fn anotar_atendimento(
        &mut self,
        cliente: SessaoId,
        desde: Duration,
        departamento: Option<&str>,
        agora: Duration,
    ) {
        let duracao = agora.saturating_sub(desde);
        let proprio = match self.sessoes.get(cliente).map(|s| &s.papel) {
            Some(PapelSessao::Cliente { departamento, .. }) => Some(departamento.as_str()),
            _ => None,
        };
        if let Some(departamento) = departamento.or(proprio) {
            self.estimativas.anotar(departamento, duracao);
            let departamento = departamento.to_owned();
            self.medir(Medida::Atendimento {
                departamento,
                duracao,
            });
        }
    }

    /// Seeds a department's handling times with what the history remembers, oldest first (a
    /// restarted broker estimates from its first customer on).
    pub fn lembrar_atendimentos(&mut self, departamento: &str, duracoes: &[Duration]) {
        for &duracao in duracoes {
            self.estimativas.anotar(departamento, duracao);
        }
    }

    /// Sends an agent how many customers wait in its departments, if that changed since it was
    /// last told (or always, when `sempre`).
    pub(super) fn informar_espera(
        &mut self,
        id: SessaoId,
        sempre: bool,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(Sessao {
            papel:
                PapelSessao::Atendente {
                    departamentos,
                    espera_informada,
                    ..
                },
            ..
        }) = self.sessoes.get_mut(id)
        else {
            return;
        };
        let clientes = u32::try_from(self.filas.esperando(departamentos)).unwrap_or(u32::MAX);
        if sempre || *espera_informada != clientes {
            *espera_informada = clientes;
            efeitos.push(Efeito::Enviar {
                para: id,
                quadro: DoBroker::Espera { clientes },
            });
        }
    }
}
