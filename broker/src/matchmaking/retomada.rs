//! The rules of suspending a session whose connection dropped, and of resuming it on a new
//! connection (rules 13 to 17 of the [module docs](super)).
//!
//! With [`Parametros::tolerancia`](super::Parametros::tolerancia) set, every session gets a
//! secret ([`Ficha`]) in its `BemVindo`. Each numbered frame sent to it ([`DoBroker::numerado`])
//! is counted and kept until the peer says it has received it (`Recebidos`). When the connection
//! drops the session is suspended: a waiting customer keeps its place, a chat stays open, a free
//! agent leaves the free lines. A connection that presents the secret within the grace period
//! takes the session over and gets every kept frame after the count it gives, in order, exactly
//! once, then the state that may have changed meanwhile (its place in line, the agents' waiting
//! count). When the grace period ends first, the drop counts as leaving (rules 7 and 9).
//!
//! Chat lines and commands a peer sends are numbered too (`seq`): the machine remembers the
//! highest it has handled per session and answers `Confirmada`, so a line or command sent again
//! after a resume is confirmed again but never relayed or carried out twice.

use std::time::Duration;

use proto::{Apresentacao, CodigoErro, DoBroker, Ficha, Papel, ParaBroker, Retomada, SessaoId};

use super::sessoes::{Estado, PapelSessao, Sessao, Vencida};
use super::{Efeito, Matchmaker, Parametros, Registro};

/// What the machine keeps of a session's secret: the first 16 bytes of its SHA-256. The secret
/// itself goes to the peer in `BemVindo` and is never kept, in memory or in the journal, so
/// whoever reads the database cannot take over a live session (a secret is 128 random bits:
/// a fast hash is enough).
pub(super) fn resumo(ficha: &Ficha) -> Ficha {
    use sha2::{Digest, Sha256};
    let completo = Sha256::digest(ficha);
    let mut resumo = [0; 16];
    resumo.copy_from_slice(&completo[..16]);
    resumo
}

impl Matchmaker {
    /// The highest `seq` handled from a session and the numbered frames sent to it (when
    /// resumable), for tests and diagnostics.
    pub fn numeracao(&self, sessao: SessaoId) -> Option<(u64, Option<u64>)> {
        let dados = self.sessoes.get(sessao)?;
        Some((dados.ultima_aceita, dados.retomada().map(|r| r.enviados)))
    }

    /// How many numbered frames a tombstone (a session ended while away) was sent: what its
    /// resume must say it received. For tests and diagnostics.
    pub fn enviados_a_lapide(&self, sessao: SessaoId) -> Option<u64> {
        self.sessoes.lapide(sessao).map(|lapide| lapide.enviados)
    }

    /// Whether the session exists and waits for a resume.
    pub fn suspensa(&self, sessao: SessaoId) -> bool {
        self.sessoes.get(sessao).is_some_and(Sessao::suspensa)
    }

    /// The peer has received `total` numbered frames: stop keeping them.
    pub(super) fn confirmar_recebidos(&mut self, id: SessaoId, total: u64) {
        if let Some(retomada) = self.sessoes.get_mut(id).and_then(Sessao::retomada_mut) {
            retomada.descartar_ate(total);
        }
    }

    /// Handles a frame, first weeding out a numbered one (a chat line or a command) already
    /// handled (it is confirmed again, not carried out twice) and confirming a new one once
    /// handled (rule 16).
    pub(super) fn receber_numerado(
        &mut self,
        id: SessaoId,
        quadro: ParaBroker,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let seq = quadro.seq();
        if seq == 0 {
            return self.receber(id, quadro, agora, efeitos);
        }
        let Some(sessao) = self.sessoes.get_mut(id) else {
            return;
        };
        let repetido = seq <= sessao.ultima_aceita;
        sessao.ultima_aceita = sessao.ultima_aceita.max(seq);
        let confirmada = sessao.ultima_aceita;
        if !repetido {
            self.receber(id, quadro, agora, efeitos);
        }
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: DoBroker::Confirmada { seq: confirmada },
        });
    }

    /// A session's connection dropped: suspend it for the grace period (or remove it, if it
    /// cannot be resumed). Its partner learns it is away; a free agent stops (rule 13).
    pub(super) fn suspender(&mut self, id: SessaoId, agora: Duration, efeitos: &mut Vec<Efeito>) {
        let Some(sessao) = self.sessoes.get(id) else {
            return;
        };
        if sessao.retomada().is_none() {
            return self.remover(id, false, agora, efeitos);
        }
        let conversas = sessao.conversas();
        let prazo = agora.saturating_add(self.parametros.tolerancia);
        if !self.sessoes.suspender(id, prazo) {
            return;
        }
        for conversa in conversas {
            if let Some(parceiro) = self.parceiro(id, conversa) {
                efeitos.push(Efeito::Enviar {
                    para: parceiro,
                    quadro: DoBroker::Parceiro {
                        conversa,
                        conectado: false,
                    },
                });
            }
        }
        self.parar_atendente(id);
        efeitos.push(Efeito::Desligar { sessao: id });
    }

    /// Removes every suspended session whose grace period ended by `agora`, as if it had left
    /// the moment its connection dropped (rules 7 and 9), and forgets tombstones whose time is
    /// up.
    pub(super) fn expirar(&mut self, agora: Duration, efeitos: &mut Vec<Efeito>) {
        for vencida in self.sessoes.vencer(agora) {
            match vencida {
                Vencida::Lapide(sessao) if self.parametros.diario => {
                    efeitos.push(Efeito::Registrar(Registro::SessaoSaiu { sessao }));
                }
                Vencida::Lapide(_) => {}
                Vencida::Sessao(id) => self.remover(id, false, agora, efeitos),
            }
        }
    }

    /// An agent logs in with the name of a suspended agent (say, the app was restarted and lost
    /// its secret): that old session counts as gone, so the name is free (rule 15).
    pub(super) fn liberar_nome_de_suspenso(
        &mut self,
        nome: &str,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let suspenso = self
            .sessoes
            .atendente_chamado(nome)
            .filter(|&id| self.suspensa(id));
        if let Some(antigo) = suspenso {
            self.remover(antigo, false, agora, efeitos);
        }
    }

    /// A peer comes back to a session the broker ended while it was away (rule 14): it gets
    /// `BemVindo`, the frames it missed (the last is the `Fim`), and the close.
    pub(super) fn entregar_lapide(
        &mut self,
        conexao: SessaoId,
        id: SessaoId,
        pedido: &Retomada,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(mut lapide) = self.sessoes.tirar_lapide(id) else {
            return;
        };
        if !lapide.aceita(pedido.recebidos) {
            return recusar_retomada(conexao, efeitos);
        }
        lapide.descartar_ate(pedido.recebidos);
        efeitos.push(Efeito::Retomar {
            conexao,
            sessao: id,
        });
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: bemvindo(&self.parametros, id, pedido.ficha, (true, 0), 1),
        });
        efeitos.extend(
            lapide
                .retidos
                .drain(..)
                .map(|quadro| Efeito::Reenviar { para: id, quadro }),
        );
        efeitos.push(Efeito::Fechar { sessao: id });
    }

    /// The connection `conexao` asks to take over the session `pedido` names (rule 13). It gets
    /// `BemVindo`, every kept frame after the count it gives, then the state that may have
    /// changed; or `RetomadaInvalida` and a close.
    pub(super) fn retomar(
        &mut self,
        conexao: SessaoId,
        apresentacao: &Apresentacao,
        pedido: &Retomada,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let chave = resumo(&pedido.ficha);
        let dona = self.sessoes.por_ficha(&chave);
        if let Some(id) = dona.filter(|&id| self.sessoes.lapide(id).is_some()) {
            return self.entregar_lapide(conexao, id, pedido, efeitos);
        }
        let cliente = matches!(apresentacao.papel, Papel::Cliente { .. });
        let encontrada = dona.filter(|&id| {
            self.sessoes.get(id).is_some_and(|sessao| {
                sessao.cliente() == cliente
                    && sessao
                        .retomada()
                        .is_some_and(|r| r.aceita(pedido.recebidos))
            })
        });
        let Some(id) = encontrada else {
            return recusar_retomada(conexao, efeitos);
        };
        let Some(sessao) = self.sessoes.get_mut(id) else {
            return;
        };
        let (ultima_aceita, capacidade) = (sessao.ultima_aceita, sessao.capacidade());
        let Some(retomada) = sessao.retomada_mut() else {
            return;
        };
        let estava_suspensa = retomada.suspensa_ate.take().is_some();
        retomada.descartar_ate(pedido.recebidos);
        efeitos.push(Efeito::Retomar {
            conexao,
            sessao: id,
        });
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: bemvindo(
                &self.parametros,
                id,
                pedido.ficha,
                (true, ultima_aceita),
                capacidade,
            ),
        });
        efeitos.extend(retomada.retidos.iter().map(|quadro| Efeito::Reenviar {
            para: id,
            quadro: quadro.clone(),
        }));
        self.devolver_estado(id, estava_suspensa, agora, efeitos);
    }

    /// After a resume, tells the session what may have changed while it was away: a customer
    /// its place, an agent the waiting count and its pause (a stopped agent who did not pause
    /// is free again), each side of a chat whether the other is there.
    fn devolver_estado(
        &mut self,
        id: SessaoId,
        estava_suspensa: bool,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.get(id) else {
            return;
        };
        let conversas = sessao.conversas();
        match (&sessao.papel, sessao.estado) {
            (
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    ..
                },
                Estado::Aguardando,
            ) => {
                if let Some(posicao) = self.filas.posicao(departamento, *chegada) {
                    self.informar_fila(id, posicao, true, None, efeitos);
                }
            }
            (PapelSessao::Atendente { pausado, .. }, estado) => {
                let (pausado, parado) = (*pausado, estado == Estado::Parado);
                self.informar_espera(id, true, efeitos);
                if pausado {
                    efeitos.push(Efeito::Enviar {
                        para: id,
                        quadro: DoBroker::Pausa { pausado },
                    });
                } else if parado {
                    self.liberar_atendente(id, agora, efeitos);
                }
            }
            (PapelSessao::Cliente { .. }, _) => {}
        }
        for conversa in conversas {
            let Some(parceiro) = self.parceiro(id, conversa) else {
                continue;
            };
            if self.suspensa(parceiro) {
                efeitos.push(Efeito::Enviar {
                    para: id,
                    quadro: DoBroker::Parceiro {
                        conversa,
                        conectado: false,
                    },
                });
            }
            if estava_suspensa {
                efeitos.push(Efeito::Enviar {
                    para: parceiro,
                    quadro: DoBroker::Parceiro {
                        conversa,
                        conectado: true,
                    },
                });
            }
        }
    }
}

/// Refuses a resume: `RetomadaInvalida`, then the close of the connection that asked.
fn recusar_retomada(conexao: SessaoId, efeitos: &mut Vec<Efeito>) {
    efeitos.push(Efeito::Enviar {
        para: conexao,
        quadro: DoBroker::erro(CodigoErro::RetomadaInvalida),
    });
    efeitos.push(Efeito::Fechar { sessao: conexao });
}

/// The grace period as `BemVindo` announces it.
fn tolerancia_ms(parametros: &Parametros) -> u64 {
    u64::try_from(parametros.tolerancia.as_millis()).unwrap_or(u64::MAX)
}

/// The welcome of session `id` with its secret; `(retomada, ultima_aceita)`: whether it is
/// resumed, and the highest `seq` handled from it; the chats it takes at once.
pub(super) fn bemvindo(
    parametros: &Parametros,
    id: SessaoId,
    ficha: Ficha,
    (retomada, ultima_aceita): (bool, u64),
    capacidade: usize,
) -> DoBroker {
    let (mensagens_por_segundo, rajada) = parametros.ritmo;
    DoBroker::BemVindo {
        sessao: id,
        batimento_ms: parametros.batimento_ms,
        ficha,
        tolerancia_ms: tolerancia_ms(parametros),
        retomada,
        ultima_aceita,
        mensagens_por_segundo,
        rajada,
        capacidade: u8::try_from(capacidade).unwrap_or(u8::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matchmaking::{Evento, Parametros, Situacao};
    use proto::MotivoFim;

    const SEG: Duration = Duration::from_secs(1);

    fn maquina() -> Matchmaker {
        Matchmaker::com_parametros(Parametros {
            tolerancia: Duration::from_secs(60),
            ..Parametros::default()
        })
    }

    fn entrar(maquina: &mut Matchmaker, sessao: SessaoId, apresentacao: Apresentacao) {
        maquina.aplicar(
            Evento::Entrou {
                sessao,
                apresentacao,
                ficha: [sessao as u8; 16],
            },
            SEG,
        );
    }

    fn retomar(
        maquina: &mut Matchmaker,
        conexao: SessaoId,
        de: SessaoId,
        recebidos: u64,
        agora: Duration,
    ) -> Vec<Efeito> {
        let mut apresentacao = Apresentacao::cliente("qualquer", "geral");
        if de <= 9 {
            apresentacao = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        }
        apresentacao.retomar = Some(Retomada {
            ficha: [de as u8; 16],
            recebidos,
        });
        let efeitos = maquina.aplicar(
            Evento::Entrou {
                sessao: conexao,
                apresentacao,
                ficha: [conexao as u8; 16],
            },
            agora,
        );
        maquina.checar_invariantes().expect("invariants hold");
        efeitos
    }

    fn linha(maquina: &mut Matchmaker, de: SessaoId, texto: &str, seq: u64) -> Vec<Efeito> {
        let Some(&(conversa, _)) = maquina.conversas_de(de).first() else {
            panic!("{de} should be chatting");
        };
        let quadro = ParaBroker::Mensagem {
            conversa,
            texto: texto.into(),
            seq,
        };
        maquina.aplicar(Evento::Recebeu { sessao: de, quadro }, SEG)
    }

    /// Yuri (agent, session 1) chatting with Ana (customer, session 10).
    fn par() -> Matchmaker {
        let mut maquina = maquina();
        entrar(
            &mut maquina,
            1,
            Apresentacao::atendente("Yuri", vec!["geral".into()], "t"),
        );
        entrar(&mut maquina, 10, Apresentacao::cliente("Ana", "geral"));
        maquina
    }

    /// Ana's (session 10) chat.
    fn conversa_de_ana(maquina: &Matchmaker) -> u64 {
        match maquina.situacao(10) {
            Some(Situacao::EmConversa { conversa, .. }) => conversa,
            outra => panic!("Ana should be chatting: {outra:?}"),
        }
    }

    fn mensagem(de: &str, texto: &str) -> DoBroker {
        DoBroker::Mensagem {
            conversa: 1,
            de: de.into(),
            texto: texto.into(),
        }
    }

    #[test]
    fn agente_que_cai_recebe_na_volta_o_que_perdeu_em_ordem() {
        let mut maquina = par();
        let efeitos = maquina.aplicar(Evento::Caiu { sessao: 1 }, SEG);
        assert_eq!(
            efeitos,
            [
                Efeito::Enviar {
                    para: 10,
                    quadro: DoBroker::Parceiro {
                        conversa: 1,
                        conectado: false
                    },
                },
                Efeito::Desligar { sessao: 1 },
            ]
        );
        assert!(maquina.suspensa(1));
        linha(&mut maquina, 10, "um", 1);
        linha(&mut maquina, 10, "dois", 2);
        // Yuri had read his `Conectado` (frame 1) only.
        let efeitos = retomar(&mut maquina, 77, 1, 1, 2 * SEG);
        assert_eq!(
            efeitos[0],
            Efeito::Retomar {
                conexao: 77,
                sessao: 1
            }
        );
        assert!(matches!(
            &efeitos[1],
            Efeito::Enviar {
                para: 1,
                quadro: DoBroker::BemVindo { retomada: true, .. }
            }
        ));
        assert_eq!(
            efeitos[2..4],
            [
                Efeito::Reenviar {
                    para: 1,
                    quadro: mensagem("Ana", "um")
                },
                Efeito::Reenviar {
                    para: 1,
                    quadro: mensagem("Ana", "dois")
                },
            ]
        );
        assert!(!maquina.suspensa(1));
        assert!(efeitos.contains(&Efeito::Enviar {
            para: 10,
            quadro: DoBroker::Parceiro {
                conversa: 1,
                conectado: true
            },
        }));
        // Having received all three, he cannot ask for frames before them any more.
        maquina.aplicar(
            Evento::Recebeu {
                sessao: 1,
                quadro: ParaBroker::Recebidos { total: 3 },
            },
            2 * SEG,
        );
        maquina.aplicar(Evento::Caiu { sessao: 1 }, 2 * SEG);
        let recusa = retomar(&mut maquina, 78, 1, 1, 3 * SEG);
        assert_eq!(
            recusa[0],
            Efeito::Enviar {
                para: 78,
                quadro: DoBroker::erro(CodigoErro::RetomadaInvalida),
            }
        );
        let efeitos = retomar(&mut maquina, 79, 1, 3, 3 * SEG);
        assert!(!efeitos.iter().any(|e| matches!(e, Efeito::Reenviar { .. })));
    }

    #[test]
    fn linha_repetida_e_confirmada_de_novo_e_nao_repassada() {
        let mut maquina = par();
        let primeira = linha(&mut maquina, 10, "oi", 1);
        assert!(primeira.contains(&Efeito::Enviar {
            para: 1,
            quadro: mensagem("Ana", "oi")
        }));
        assert!(primeira.contains(&Efeito::Enviar {
            para: 10,
            quadro: DoBroker::Confirmada { seq: 1 },
        }));
        let de_novo = linha(&mut maquina, 10, "oi", 1);
        assert_eq!(
            de_novo,
            [Efeito::Enviar {
                para: 10,
                quadro: DoBroker::Confirmada { seq: 1 },
            }]
        );
    }

    #[test]
    fn prazo_esgotado_aplica_as_regras_de_saida() {
        let mut maquina = par();
        maquina.aplicar(Evento::Caiu { sessao: 1 }, SEG);
        assert!(maquina.tick(30 * SEG).is_empty());
        let efeitos = maquina.tick(61 * SEG);
        assert!(efeitos.contains(&Efeito::Enviar {
            para: 10,
            quadro: DoBroker::Fim {
                conversa: 1,
                motivo: MotivoFim::AtendenteDesconectou
            },
        }));
        assert!(efeitos.contains(&Efeito::Fechar { sessao: 1 }));
        assert!(matches!(
            maquina.situacao(10),
            Some(Situacao::Aguardando { posicao: 1, .. })
        ));
        maquina.checar_invariantes().expect("invariants hold");
        // The secret died with the session.
        let recusa = retomar(&mut maquina, 80, 1, 1, 62 * SEG);
        assert!(recusa.contains(&Efeito::Fechar { sessao: 80 }));
    }

    #[test]
    fn atendente_livre_suspenso_nao_recebe_clientes() {
        let mut maquina = maquina();
        entrar(
            &mut maquina,
            1,
            Apresentacao::atendente("Yuri", vec!["geral".into()], "t"),
        );
        maquina.aplicar(Evento::Caiu { sessao: 1 }, SEG);
        entrar(&mut maquina, 10, Apresentacao::cliente("Ana", "geral"));
        assert!(matches!(
            maquina.situacao(10),
            Some(Situacao::Aguardando { posicao: 1, .. })
        ));
        maquina.checar_invariantes().expect("invariants hold");
        // Back, he takes her at once.
        retomar(&mut maquina, 77, 1, 0, 2 * SEG);
        assert_eq!(maquina.conversas_de(1), [(conversa_de_ana(&maquina), 10)]);
    }

    #[test]
    fn novo_login_com_o_nome_de_um_atendente_suspenso_o_substitui() {
        let mut maquina = par();
        maquina.aplicar(Evento::Caiu { sessao: 1 }, SEG);
        entrar(
            &mut maquina,
            2,
            Apresentacao::atendente("yuri", vec!["geral".into()], "t"),
        );
        assert_eq!(maquina.situacao(1), None);
        assert_eq!(maquina.conversas_de(2), [(conversa_de_ana(&maquina), 10)]);
        maquina.checar_invariantes().expect("invariants hold");
    }

    #[test]
    fn atendente_que_recebe_cliente_suspenso_e_avisado() {
        let mut maquina = maquina();
        entrar(&mut maquina, 10, Apresentacao::cliente("Ana", "geral"));
        maquina.aplicar(Evento::Caiu { sessao: 10 }, SEG);
        let yuri = Apresentacao::atendente("Yuri", vec!["geral".into()], "t");
        let efeitos = maquina.aplicar(
            Evento::Entrou {
                sessao: 1,
                apresentacao: yuri,
                ficha: [1; 16],
            },
            SEG,
        );
        assert!(efeitos.contains(&Efeito::Enviar {
            para: 1,
            quadro: DoBroker::Parceiro {
                conversa: 1,
                conectado: false
            },
        }));
        // When Ana is back, Yuri hears of it; she gets her `Conectado` again.
        let efeitos = retomar(&mut maquina, 77, 10, 0, 2 * SEG);
        assert!(efeitos.iter().any(|e| matches!(
            e,
            Efeito::Reenviar {
                para: 10,
                quadro: DoBroker::Conectado { .. }
            }
        )));
        assert!(efeitos.contains(&Efeito::Enviar {
            para: 1,
            quadro: DoBroker::Parceiro {
                conversa: 1,
                conectado: true
            },
        }));
    }

    #[test]
    fn cliente_fora_quando_o_atendente_encerra_recebe_o_fim_ao_voltar() {
        let mut maquina = par();
        maquina.aplicar(Evento::Caiu { sessao: 10 }, SEG);
        maquina.aplicar(
            Evento::Recebeu {
                sessao: 1,
                quadro: ParaBroker::Encerrar {
                    conversa: 1,
                    seq: 0,
                },
            },
            SEG,
        );
        maquina.checar_invariantes().expect("invariants hold");
        assert_eq!(maquina.situacao(10), None);
        // Ana had read her `Conectado`: she gets the end, then the close.
        let efeitos = retomar(&mut maquina, 77, 10, 1, 2 * SEG);
        let fim = DoBroker::Fim {
            conversa: 1,
            motivo: MotivoFim::AtendenteEncerrou,
        };
        assert_eq!(
            efeitos[0],
            Efeito::Retomar {
                conexao: 77,
                sessao: 10
            }
        );
        assert_eq!(
            efeitos[2..],
            [
                Efeito::Reenviar {
                    para: 10,
                    quadro: fim
                },
                // The session's own end, outside any chat: no rating for a customer away.
                Efeito::Reenviar {
                    para: 10,
                    quadro: DoBroker::Fim {
                        conversa: 0,
                        motivo: MotivoFim::AtendenteEncerrou
                    }
                },
                Efeito::Fechar { sessao: 10 },
            ]
        );
        // Only once: the tombstone is gone.
        let de_novo = retomar(&mut maquina, 78, 10, 1, 2 * SEG);
        assert!(de_novo.contains(&Efeito::Fechar { sessao: 78 }));
    }

    #[test]
    fn lapide_some_no_fim_do_prazo() {
        let mut maquina = par();
        maquina.aplicar(Evento::Caiu { sessao: 10 }, SEG);
        let encerrar = Evento::Recebeu {
            sessao: 1,
            quadro: ParaBroker::Encerrar {
                conversa: 1,
                seq: 0,
            },
        };
        maquina.aplicar(encerrar, SEG);
        maquina.tick(62 * SEG);
        maquina.checar_invariantes().expect("invariants hold");
        let recusa = retomar(&mut maquina, 77, 10, 1, 62 * SEG);
        assert!(recusa.contains(&Efeito::Fechar { sessao: 77 }));
    }

    #[test]
    fn cliente_suspenso_na_fila_guarda_o_lugar() {
        let mut maquina = maquina();
        entrar(&mut maquina, 10, Apresentacao::cliente("Ana", "geral"));
        entrar(&mut maquina, 11, Apresentacao::cliente("Bia", "geral"));
        maquina.aplicar(Evento::Caiu { sessao: 10 }, SEG);
        assert!(matches!(
            maquina.situacao(10),
            Some(Situacao::Aguardando { posicao: 1, .. })
        ));
        let efeitos = retomar(&mut maquina, 77, 10, 0, 2 * SEG);
        assert_eq!(
            efeitos.last(),
            Some(&Efeito::Enviar {
                para: 10,
                // No agent serves `geral` here.
                quadro: DoBroker::Fila {
                    posicao: 1,
                    atendentes: 0,
                    estimativa_s: None
                },
            })
        );
    }
}
