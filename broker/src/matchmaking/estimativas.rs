//! The wait estimate (rule 20): per department, how long its agents took over their last chats,
//! and what each waiting customer was last told about its line. [`Estimativas`] alone keeps
//! both.
//!
//! A customer at place `p` waits for `p` places to come free. With `L` places among the agents
//! who can answer now, each busy for `T` on average (the mean of the department's last
//! [`AMOSTRAS`] chats, from an agent taking it to that agent letting it go), places come free
//! about every `T / L`, so the estimate is `p × T / L`, rounded up to whole seconds. With no
//! agent able to answer, or no chat seen yet, there is no estimate.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// How many of a department's latest chats the mean handling time is taken over.
pub const AMOSTRAS: usize = 20;

/// What a waiting customer is told about its line (the fields of `Fila`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct AvisoFila {
    /// Its 1-based place.
    pub(super) posicao: u32,
    /// Agents serving its department who are connected and not paused.
    pub(super) atendentes: u32,
    /// The estimated wait, in seconds.
    pub(super) estimativa_s: Option<u32>,
}

/// What a department's estimates depend on besides the place: who can answer and how fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Panorama {
    /// Agents serving it who are connected and not paused.
    pub(super) atendentes: u32,
    /// Their places (the sum of their capacities).
    pub(super) lugares: u64,
    /// The mean handling time of its latest chats, in milliseconds.
    pub(super) media_ms: Option<u64>,
}

impl Panorama {
    /// What a customer at `posicao` is told.
    pub(super) fn aviso(self, posicao: u32) -> AvisoFila {
        let estimativa_s = match (self.media_ms, self.lugares) {
            (Some(media), lugares) if lugares > 0 => {
                let ms = u128::from(posicao) * u128::from(media);
                let s = ms.div_ceil(u128::from(lugares) * 1000);
                Some(u32::try_from(s).unwrap_or(u32::MAX))
            }
            _ => None,
        };
        AvisoFila {
            posicao,
            atendentes: self.atendentes,
            estimativa_s,
        }
    }
}

/// Handling times per department, and the panoramas last used for each line.
#[derive(Debug, Default)]
pub(super) struct Estimativas {
    /// The latest handling times of each department, oldest first, with their sum.
    duracoes: HashMap<String, (VecDeque<Duration>, Duration)>,
    /// The panorama each department's waiting customers were last told from.
    vistos: HashMap<String, Panorama>,
}

impl Estimativas {
    /// Notes that an agent of `departamento` held a chat for `duracao`.
    pub(super) fn anotar(&mut self, departamento: &str, duracao: Duration) {
        let (ultimas, soma) = self.duracoes.entry(departamento.to_owned()).or_default();
        ultimas.push_back(duracao);
        *soma += duracao;
        if ultimas.len() > AMOSTRAS {
            if let Some(velha) = ultimas.pop_front() {
                *soma -= velha;
            }
        }
    }

    /// The mean of the department's latest handling times, in milliseconds.
    pub(super) fn media_ms(&self, departamento: &str) -> Option<u64> {
        let (ultimas, soma) = self.duracoes.get(departamento)?;
        let n = u128::try_from(ultimas.len()).ok().filter(|&n| n > 0)?;
        u64::try_from(soma.as_millis() / n).ok()
    }

    /// Whether a department's panorama differs from the one its customers were last told
    /// from; remembers the new one.
    pub(super) fn mudou(&mut self, departamento: &str, panorama: Panorama) -> bool {
        match self.vistos.get_mut(departamento) {
            Some(visto) if *visto == panorama => false,
            Some(visto) => {
                *visto = panorama;
                true
            }
            None => {
                self.vistos.insert(departamento.to_owned(), panorama);
                true
            }
        }
    }

    /// A customer of `departamento` was told from the panorama of this moment, between ticks:
    /// the next tick must look at the whole line again, since the panorama may go back to the
    /// one seen last (an agent who came and left) and this customer be the only one told
    /// otherwise.
    pub(super) fn rever(&mut self, departamento: &str) {
        self.vistos.remove(departamento);
    }

    /// Forgets the panoramas of departments nobody waits in any more.
    pub(super) fn esquecer_vistos(&mut self, manter: impl Fn(&str) -> bool) {
        self.vistos.retain(|nome, _| manter(nome));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sem_atendente_ou_sem_historico_nao_ha_estimativa() {
        let sem_lugar = Panorama {
            atendentes: 0,
            lugares: 0,
            media_ms: Some(60_000),
        };
        assert_eq!(sem_lugar.aviso(1).estimativa_s, None);
        let sem_media = Panorama {
            atendentes: 1,
            lugares: 1,
            media_ms: None,
        };
        assert_eq!(sem_media.aviso(1).estimativa_s, None);
    }

    #[test]
    fn a_estimativa_e_lugar_vezes_media_sobre_os_lugares_arredondada_para_cima() {
        let panorama = Panorama {
            atendentes: 2,
            lugares: 4,
            media_ms: Some(120_000),
        };
        assert_eq!(panorama.aviso(1).estimativa_s, Some(30));
        assert_eq!(panorama.aviso(3).estimativa_s, Some(90));
        let curto = Panorama {
            media_ms: Some(1_001),
            ..panorama
        };
        assert_eq!(curto.aviso(4).estimativa_s, Some(2));
    }

    #[test]
    fn a_media_e_das_ultimas_amostras() {
        let mut estimativas = Estimativas::default();
        assert_eq!(estimativas.media_ms("geral"), None);
        for _ in 0..AMOSTRAS {
            estimativas.anotar("geral", Duration::from_secs(100));
        }
        estimativas.anotar("geral", Duration::from_secs(120));
        // One 100 s chat dropped out, one of 120 s came in.
        assert_eq!(estimativas.media_ms("geral"), Some(101_000));
        assert_eq!(estimativas.media_ms("vendas"), None);
    }

    #[test]
    fn um_panorama_so_muda_uma_vez() {
        let mut estimativas = Estimativas::default();
        let panorama = Panorama::default();
        assert!(estimativas.mudou("geral", panorama));
        assert!(!estimativas.mudou("geral", panorama));
        let outro = Panorama {
            atendentes: 1,
            ..panorama
        };
        assert!(estimativas.mudou("geral", outro));
    }
}
