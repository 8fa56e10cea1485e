//! Property test of the crash journal: after any sequence of joins, chats, drops, resumes,
//! pauses, ends and grace expiries, a machine restored from the journal the state machine wrote
//! (the latest snapshot of each session, plus the history's lines of the open chats) holds
//! every session where it was: the same lines in the same order, the same chats, the same
//! numbered frames sent, with every session suspended for its peer to resume.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use broker::matchmaking::{
    Efeito, Evento, Instantaneo, LinhaSalva, Matchmaker, Parametros, Registro, Situacao,
};
use proptest::prelude::*;
use proto::{Apresentacao, Destino, Ficha, ParaBroker, Retomada, SessaoId};

#[derive(Debug, Clone)]
enum Acao {
    EntraCliente {
        nome: u8,
        departamento: u8,
    },
    EntraAtendente {
        nome: u8,
        departamentos: u8,
        capacidade: u8,
    },
    Diz {
        quem: usize,
        na_conversa: bool,
    },
    Encerra {
        quem: usize,
    },
    Transfere {
        quem: usize,
        destino: u8,
    },
    Sai {
        quem: usize,
    },
    Pausa {
        quem: usize,
        pausar: bool,
    },
    Confirma {
        quem: usize,
    },
    Cai {
        quem: usize,
    },
    Retoma {
        quem: usize,
    },
    Passa {
        segundos: u8,
    },
}

fn acao() -> impl Strategy<Value = Acao> {
    prop_oneof![
        (0..4u8, 0..2u8).prop_map(|(nome, departamento)| Acao::EntraCliente { nome, departamento }),
        (0..3u8, 1..4u8, 1..4u8).prop_map(|(nome, departamentos, capacidade)| {
            Acao::EntraAtendente {
                nome,
                departamentos,
                capacidade,
            }
        }),
        (any::<usize>(), prop::bool::weighted(0.9))
            .prop_map(|(quem, na_conversa)| Acao::Diz { quem, na_conversa }),
        any::<usize>().prop_map(|quem| Acao::Encerra { quem }),
        (any::<usize>(), 0..5u8).prop_map(|(quem, destino)| Acao::Transfere { quem, destino }),
        any::<usize>().prop_map(|quem| Acao::Sai { quem }),
        (any::<usize>(), any::<bool>()).prop_map(|(quem, pausar)| Acao::Pausa { quem, pausar }),
        any::<usize>().prop_map(|quem| Acao::Confirma { quem }),
        any::<usize>().prop_map(|quem| Acao::Cai { quem }),
        any::<usize>().prop_map(|quem| Acao::Retoma { quem }),
        (1..40u8).prop_map(|segundos| Acao::Passa { segundos }),
    ]
}

fn parametros() -> Parametros {
    Parametros {
        tolerancia: Duration::from_secs(60),
        diario: true,
        historico: true,
        // Short enough that unanswered chats go to other agents within a sequence.
        prazo_resposta: Duration::from_secs(20),
        ..Parametros::default()
    }
}

/// The test's side: the machine, what its peers know, and what the store holds.
#[derive(Default)]
struct Banco {
    /// Latest snapshot per session.
    sessoes: BTreeMap<SessaoId, Instantaneo>,
    /// Lines per conversation, in order, while open.
    linhas: BTreeMap<u64, Vec<LinhaSalva>>,
}

impl Banco {
    fn guardar(&mut self, efeitos: &[Efeito]) {
        for efeito in efeitos {
            let Efeito::Registrar(registro) = efeito else {
                continue;
            };
            match registro {
                Registro::Sessao(salva) => {
                    self.sessoes.insert(salva.sessao, (**salva).clone());
                }
                Registro::SessaoSaiu { sessao } => {
                    self.sessoes.remove(sessao);
                }
                Registro::SemSessoes => self.sessoes.clear(),
                Registro::Inicio { conversa, .. } => {
                    self.linhas.insert(*conversa, Vec::new());
                }
                Registro::Mensagem {
                    conversa,
                    seq,
                    do_atendente,
                    autor,
                    texto,
                    ..
                } => {
                    let linhas = self.linhas.entry(*conversa).or_default();
                    linhas.push(LinhaSalva {
                        conversa: *conversa,
                        seq: linhas.len() as u64 + 1,
                        do_atendente: *do_atendente,
                        autor: autor.clone(),
                        texto: texto.clone(),
                        seq_remetente: *seq,
                    });
                }
                Registro::Fim { conversa, .. } => {
                    self.linhas.remove(conversa);
                }
                // Who served a chat is history only; the lines stay with the conversation.
                Registro::Transferencia { .. }
                | Registro::Assumida { .. }
                | Registro::Avaliacao { .. }
                | Registro::FimDeEspera { .. } => {}
            }
        }
    }
}

struct Mesa {
    maquina: Matchmaker,
    banco: Banco,
    agora: Duration,
    proxima_conexao: SessaoId,
    /// Every session ever created, with its role and handshake, in order.
    sessoes: Vec<(SessaoId, Apresentacao)>,
    /// Numbered frames each session has been sent (as if its peer read everything).
    recebidos: HashMap<SessaoId, u64>,
    /// The last line `seq` each session used.
    seqs: HashMap<SessaoId, u64>,
    /// The highest `seq` of each session's lines that were relayed.
    repassadas: HashMap<SessaoId, u64>,
}

fn ficha(sessao: SessaoId) -> Ficha {
    let mut ficha = [0xaa; 16];
    ficha[..8].copy_from_slice(&sessao.to_le_bytes());
    ficha
}

impl Mesa {
    fn aplicar(&mut self, evento: Evento) -> Vec<Efeito> {
        let efeitos = self.maquina.aplicar(evento, self.agora);
        self.depois(&efeitos);
        efeitos
    }

    fn depois(&mut self, efeitos: &[Efeito]) {
        for efeito in efeitos {
            match efeito {
                Efeito::Enviar { para, quadro } if quadro.numerado() => {
                    *self.recebidos.entry(*para).or_default() += 1;
                }
                _ => {}
            }
        }
        self.banco.guardar(efeitos);
        self.maquina
            .checar_invariantes()
            .unwrap_or_else(|erro| panic!("invariante: {erro}"));
    }

    fn escolher(&self, quem: usize) -> Option<SessaoId> {
        if self.sessoes.is_empty() {
            return None;
        }
        Some(self.sessoes[quem % self.sessoes.len()].0)
    }

    fn entrar(&mut self, apresentacao: Apresentacao) {
        self.proxima_conexao += 1;
        let sessao = self.proxima_conexao;
        self.sessoes.push((sessao, apresentacao.clone()));
        self.aplicar(Evento::Entrou {
            sessao,
            apresentacao,
            ficha: ficha(sessao),
        });
    }

    fn executar(&mut self, acao: Acao) {
        match acao {
            Acao::EntraCliente { nome, departamento } => {
                let departamento = ["geral", "vendas"][departamento as usize];
                self.entrar(Apresentacao::cliente(format!("c{nome}"), departamento));
            }
            Acao::EntraAtendente {
                nome,
                departamentos,
                capacidade,
            } => {
                let departamentos = ["geral", "vendas"]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| departamentos & (1 << i) != 0)
                    .map(|(_, d)| d.to_string())
                    .collect();
                self.entrar(
                    Apresentacao::atendente(format!("a{nome}"), departamentos, "t")
                        .com_capacidade(capacidade),
                );
            }
            Acao::Diz { quem, na_conversa } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                // In its chat; or, in none, for no chat (a waiting customer's line is kept for
                // its agent); or for a chat it is not in.
                let conversa = match self.maquina.conversas_de(sessao).last() {
                    Some(&(conversa, _)) if na_conversa => conversa,
                    None if na_conversa => 0,
                    _ => 999,
                };
                let seq = self.seqs.entry(sessao).or_default();
                *seq += 1;
                let seq = *seq;
                let quadro = ParaBroker::Mensagem {
                    conversa,
                    texto: format!("linha {seq}"),
                    seq,
                };
                let efeitos = self.aplicar(Evento::Recebeu { sessao, quadro });
                let repassada = efeitos
                    .iter()
                    .any(|e| matches!(e, Efeito::Registrar(Registro::Mensagem { .. })));
                if repassada {
                    self.repassadas.insert(sessao, seq);
                }
            }
            Acao::Encerra { quem } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                let conversa = self.maquina.conversas_de(sessao).first().map_or(0, |c| c.0);
                self.aplicar(Evento::Recebeu {
                    sessao,
                    quadro: ParaBroker::Encerrar { conversa, seq: 0 },
                });
            }
            Acao::Transfere { quem, destino } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                let conversa = self.maquina.conversas_de(sessao).first().map_or(0, |c| c.0);
                let destino = match destino {
                    0 => Destino::Departamento("geral".into()),
                    1 => Destino::Departamento("vendas".into()),
                    n => Destino::Atendente(format!("a{}", n - 2)),
                };
                self.aplicar(Evento::Recebeu {
                    sessao,
                    quadro: ParaBroker::Transferir {
                        conversa,
                        destino,
                        seq: 0,
                    },
                });
            }
            Acao::Sai { quem } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                self.aplicar(Evento::Recebeu {
                    sessao,
                    quadro: ParaBroker::Sair { seq: 0 },
                });
            }
            Acao::Pausa { quem, pausar } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                let quadro = if pausar {
                    ParaBroker::Pausar { seq: 0 }
                } else {
                    ParaBroker::Voltar { seq: 0 }
                };
                self.aplicar(Evento::Recebeu { sessao, quadro });
            }
            Acao::Confirma { quem } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                let total = self.recebidos.get(&sessao).copied().unwrap_or(0);
                self.aplicar(Evento::Recebeu {
                    sessao,
                    quadro: ParaBroker::Recebidos { total },
                });
            }
            Acao::Cai { quem } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                self.aplicar(Evento::Caiu { sessao });
            }
            Acao::Retoma { quem } => {
                let Some(sessao) = self.escolher(quem) else {
                    return;
                };
                let Some((_, apresentacao)) = self.sessoes.iter().find(|(id, _)| *id == sessao)
                else {
                    return;
                };
                let mut apresentacao = apresentacao.clone();
                apresentacao.retomar = Some(Retomada {
                    ficha: ficha(sessao),
                    recebidos: self.recebidos.get(&sessao).copied().unwrap_or(0),
                });
                self.proxima_conexao += 1;
                let conexao = self.proxima_conexao;
                self.aplicar(Evento::Entrou {
                    sessao: conexao,
                    apresentacao,
                    ficha: ficha(conexao),
                });
            }
            Acao::Passa { segundos } => {
                self.agora += Duration::from_secs(u64::from(segundos));
                let efeitos = self.maquina.tick(self.agora);
                self.depois(&efeitos);
            }
        }
    }

    /// Restores a machine from the store as it is now and compares it with the live one.
    fn conferir_restauracao(&self) {
        let linhas: Vec<LinhaSalva> = self.banco.linhas.values().flatten().cloned().collect();
        let salvas = self.banco.sessoes.values().cloned().collect();
        let restaurada = Matchmaker::restaurar(parametros(), salvas, &linhas, self.agora);
        restaurada
            .checar_invariantes()
            .unwrap_or_else(|erro| panic!("invariante da máquina restaurada: {erro}"));
        let ids: BTreeSet<SessaoId> = self.sessoes.iter().map(|(id, _)| *id).collect();
        for id in ids {
            let viva = self.maquina.situacao(id);
            let volta = restaurada.situacao(id);
            let esperada = match viva {
                Some(Situacao::Livre | Situacao::Lotado | Situacao::Parado) => {
                    Some(Situacao::Parado)
                }
                outra => outra,
            };
            assert_eq!(volta, esperada, "sessão {id} restaurada em outro lugar");
            assert_eq!(
                restaurada.conversas_de(id),
                self.maquina.conversas_de(id),
                "sessão {id} restaurada com outras conversas"
            );
            assert_eq!(
                restaurada.conversa_em_espera(id),
                self.maquina.conversa_em_espera(id),
                "sessão {id} restaurada sem a conversa transferida que esperava"
            );
            assert_eq!(
                restaurada.na_espera(id),
                self.maquina.na_espera(id),
                "sessão {id} restaurada sem o que escreveu na fila"
            );
            if viva.is_none() {
                continue;
            }
            assert!(
                restaurada.suspensa(id),
                "sessão {id} restaurada sem suspensão"
            );
            let (aceita, enviados) = self.maquina.numeracao(id).expect("exists");
            let (aceita_volta, enviados_volta) = restaurada.numeracao(id).expect("exists");
            assert_eq!(enviados_volta, enviados, "sessão {id}: quadros numerados");
            // Lines refused with an error are not stored; a line that was relayed always is.
            assert!(
                aceita_volta <= aceita,
                "sessão {id}: aceita {aceita_volta} > {aceita}"
            );
            let repassada = self.repassadas.get(&id).copied().unwrap_or(0);
            assert!(
                aceita_volta >= repassada,
                "sessão {id}: aceita {aceita_volta} < linha repassada {repassada}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn o_diario_restaura_o_que_a_maquina_tinha(acoes in prop::collection::vec(acao(), 1..60)) {
        let mut mesa = Mesa {
            maquina: Matchmaker::com_parametros(parametros()),
            banco: Banco::default(),
            agora: Duration::from_secs(1),
            proxima_conexao: 0,
            sessoes: Vec::new(),
            recebidos: HashMap::new(),
            seqs: HashMap::new(),
            repassadas: HashMap::new(),
        };
        for acao in acoes {
            mesa.executar(acao);
            mesa.conferir_restauracao();
        }
    }
}
