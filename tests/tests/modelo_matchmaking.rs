//! Property tests of the matchmaking state machine against a small reference model.
//!
//! The model keeps the rules in the plainest form (lists in arrival and idle order, agents
//! taking up to three chats at once, a deadline for the agent's first line, the wait estimate
//! recomputed for every waiting customer at every tick, a fixed list of departments in some
//! runs, lines written while waiting); random sequences of
//! joins, leaves, ends, drops, chats and ticks across several departments are applied to both,
//! and after every step the frames each session receives must be the model's, every session must be where the model says, and the machine's own consistency check
//! (which holds the design's invariants) must pass.

use std::collections::BTreeMap;
use std::time::Duration;

use broker::matchmaking::{Efeito, Evento, Matchmaker, Medida, Parametros, Situacao};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use proto::validacao::{normalizar_departamento, validar_nome, validar_texto};
use proto::{
    Apresentacao, CodigoErro, Destino, DoBroker, EstadoAtendente, Fala, MotivoFim, Papel,
    ParaBroker, SessaoId,
};
use tests::modelo::Filas;

/// One step of a test.
#[derive(Debug, Clone)]
enum Passo {
    /// A customer or an agent completes a handshake.
    Entra { nome: String, papel: Papel },
    /// A session sends a frame.
    Envia {
        sessao: SessaoId,
        quadro: ParaBroker,
    },
    /// A session's connection drops.
    Cai { sessao: SessaoId },
    /// The position tick.
    Tick,
}

/// Where a session is, in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lugar {
    Aguardando,
    /// A customer in a chat.
    Conversa {
        parceiro: SessaoId,
        conversa: u64,
    },
    /// An agent with room, in the free line.
    Livre,
    /// An agent with every place taken.
    Lotado,
    /// A paused agent.
    Pausado,
    /// A customer whose agent ended the chat, asked to rate it until `prazo_ms` (rule 23).
    Avaliando {
        conversa: u64,
        prazo_ms: u64,
    },
}

#[derive(Debug, Clone)]
struct SessaoModelo {
    nome: String,
    cliente: bool,
    departamentos: Vec<String>,
    chegada: u64,
    entrou_em_ms: u64,
    lugar: Lugar,
    /// (Agents) chats at once.
    capacidade: usize,
    /// (Agents) open chats as (conversation, customer), oldest first.
    conversas: Vec<(u64, SessaoId)>,
    /// (Customers) the last `Fila` sent: place, agents online, estimate.
    informada: (u32, u32, Option<u32>),
    /// (Customers) lines written while waiting.
    na_espera: Vec<String>,
    pausado: bool,
    espera_informada: u32,
    /// (Customers) a chat handed to its line, waiting with it for an agent.
    transferida: Option<u64>,
    /// (Customers) no agent has answered it yet: its first wait is still open.
    esperando_o_primeiro: bool,
}

/// One department's supervisor counts: arrivals, first answers (with the sum of their waits in
/// milliseconds), and customers who left before any answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Contagem {
    chegadas: u64,
    atendidos: u64,
    espera_ms: u64,
    abandonos: u64,
}

/// What a session received in one step: frames in order, then maybe a close. Error frames are
/// compared by code only.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Recebido {
    Quadro(DoBroker),
    Erro(CodigoErro),
    Fechado,
}

/// The reference model.
#[derive(Debug, Clone, Default)]
struct Modelo {
    /// The time of the current step, in milliseconds of broker uptime.
    agora_ms: u64,
    ultima_sessao: SessaoId,
    ultima_chegada: u64,
    ultima_conversa: u64,
    sessoes: BTreeMap<SessaoId, SessaoModelo>,
    /// The lines and the free agents.
    linhas: Filas,
    /// Chats whose agent has not answered yet, with the time it must answer by (rule 18).
    prazos: BTreeMap<u64, u64>,
    /// Every open chat's lines so far.
    falas: BTreeMap<u64, Vec<Fala>>,
    /// When each open chat's current agent took it.
    desde_ms: BTreeMap<u64, u64>,
    /// Each department's handling times, oldest first (the last 20 count).
    duracoes: BTreeMap<String, Vec<u64>>,
    /// The departments served (rule 21); empty: any name.
    configurados: Vec<String>,
    /// What every session received in the last step.
    recebido: BTreeMap<SessaoId, Vec<Recebido>>,
    /// The supervisor's counts per department, since the start.
    contagem: BTreeMap<String, Contagem>,
}

const NOMES: &[&str] = &["Ana", "ana", "Beto", " Caio ", "Júlia", "", "\u{1b}x"];
const DEPARTAMENTOS: &[&str] = &["geral", "Vendas", " vendas", "suporte", " "];
const TEXTOS: &[&str] = &["oi", "olá, tudo bem?", "", "\u{7}", "duas\nlinhas"];
/// Agents a transfer may name (with or without `@`, in any case, or nobody).
const DESTINOS_ATENDENTE: &[&str] = &["Ana", "@beto", "Júlia", "ninguém", ""];

impl Modelo {
    fn enviar(&mut self, para: SessaoId, quadro: DoBroker) {
        let recebido = match quadro {
            DoBroker::Erro { codigo, .. } => Recebido::Erro(codigo),
            quadro => Recebido::Quadro(quadro),
        };
        self.recebido.entry(para).or_default().push(recebido);
    }

    fn fechar(&mut self, sessao: SessaoId) {
        self.recebido
            .entry(sessao)
            .or_default()
            .push(Recebido::Fechado);
    }

    fn recusar(&mut self, sessao: SessaoId, codigo: CodigoErro) {
        if codigo == CodigoErro::DepartamentoInvalido {
            let nomes = self.configurados.clone();
            self.enviar(sessao, DoBroker::Departamentos { nomes });
        }
        self.enviar(sessao, DoBroker::erro(codigo));
        self.fechar(sessao);
    }

    fn conhecido(&self, departamento: &str) -> bool {
        self.configurados.is_empty() || self.configurados.iter().any(|d| d == departamento)
    }

    /// Rule 20: what a customer waiting at `posicao` in `departamento` is told.
    fn aviso(&self, departamento: &str, posicao: u32) -> (u32, u32, Option<u32>) {
        let ativos: Vec<&SessaoModelo> = self
            .sessoes
            .values()
            .filter(|s| {
                !s.cliente && !s.pausado && s.departamentos.iter().any(|d| d == departamento)
            })
            .collect();
        let lugares: u64 = ativos.iter().map(|s| s.capacidade as u64).sum();
        let media = self
            .duracoes
            .get(departamento)
            .filter(|d| !d.is_empty())
            .map(|d| {
                let ultimas = &d[d.len().saturating_sub(20)..];
                ultimas.iter().sum::<u64>() / ultimas.len() as u64
            });
        let estimativa = match media {
            Some(media) if lugares > 0 => {
                Some((u64::from(posicao) * media).div_ceil(lugares * 1000) as u32)
            }
            _ => None,
        };
        (posicao, ativos.len() as u32, estimativa)
    }

    /// Sends a waiting customer its `Fila`, if it changed (or always).
    fn informar(&mut self, cliente: SessaoId, sempre: bool) {
        let posicao = self.posicao(cliente).expect("waiting");
        let aviso = self.aviso(&self.sessoes[&cliente].departamentos[0], posicao);
        let dados = self.sessoes.get_mut(&cliente).expect("exists");
        if sempre || dados.informada != aviso {
            dados.informada = aviso;
            let (posicao, atendentes, estimativa_s) = aviso;
            self.enviar(
                cliente,
                DoBroker::Fila {
                    posicao,
                    atendentes,
                    estimativa_s,
                },
            );
        }
    }

    /// Rule 20: the agent of `conversa` lets it go while staying; the time it held it counts
    /// for the customer's department.
    fn anotar(&mut self, conversa: u64, cliente: SessaoId) {
        let desde = self.desde_ms.remove(&conversa).expect("chat started");
        let departamento = self.sessoes[&cliente].departamentos[0].clone();
        self.duracoes
            .entry(departamento)
            .or_default()
            .push(self.agora_ms - desde);
    }

    fn posicao(&self, sessao: SessaoId) -> Option<u32> {
        let dados = &self.sessoes[&sessao];
        let fila = self.linhas.filas.get(&dados.departamentos[0])?;
        fila.iter().position(|&s| s == sessao).map(|i| i as u32 + 1)
    }

    fn parear(&mut self, cliente: SessaoId, atendente: SessaoId) {
        // A chat handed to the customer's line goes on with this agent (rule 19).
        let transferida = self
            .sessoes
            .get_mut(&cliente)
            .expect("exists")
            .transferida
            .take();
        let conversa = transferida.unwrap_or_else(|| {
            self.ultima_conversa += 1;
            self.ultima_conversa
        });
        let dados = self.sessoes.get_mut(&cliente).expect("exists");
        if std::mem::take(&mut dados.esperando_o_primeiro) {
            let espera_ms = self.agora_ms - dados.entrou_em_ms;
            let contagem = self
                .contagem
                .entry(dados.departamentos[0].clone())
                .or_default();
            contagem.atendidos += 1;
            contagem.espera_ms += espera_ms;
        }
        self.sessoes.get_mut(&cliente).expect("exists").lugar = Lugar::Conversa {
            parceiro: atendente,
            conversa,
        };
        let agente = self.sessoes.get_mut(&atendente).expect("exists");
        agente.conversas.push((conversa, cliente));
        self.apresentar(cliente, atendente, conversa, transferida.is_some());
    }

    /// Both sides learn who the other is; an agent taking over a chat gets its lines so far.
    fn apresentar(
        &mut self,
        cliente: SessaoId,
        atendente: SessaoId,
        conversa: u64,
        continuada: bool,
    ) {
        self.prazos
            .insert(conversa, self.agora_ms + PRAZO_RESPOSTA_MS);
        self.desde_ms.insert(conversa, self.agora_ms);
        let departamento = self.sessoes[&cliente].departamentos[0].clone();
        let espera_ms = self.agora_ms - self.sessoes[&cliente].entrou_em_ms;
        let com = self.sessoes[&atendente].nome.clone();
        self.enviar(
            cliente,
            DoBroker::Conectado {
                com,
                conversa,
                departamento: departamento.clone(),
                espera_ms,
            },
        );
        let com = self.sessoes[&cliente].nome.clone();
        self.enviar(
            atendente,
            DoBroker::Conectado {
                com,
                conversa,
                departamento,
                espera_ms,
            },
        );
        if continuada {
            let falas = self.falas.get(&conversa).cloned().unwrap_or_default();
            let omitidas = 0;
            self.enviar(
                atendente,
                DoBroker::Transcricao {
                    conversa,
                    omitidas,
                    falas,
                },
            );
        }
        // Rule 22: what the customer wrote while waiting opens the chat.
        let textos = std::mem::take(&mut self.sessoes.get_mut(&cliente).expect("exists").na_espera);
        if !textos.is_empty() {
            let de = self.sessoes[&cliente].nome.clone();
            let falas = self.falas.entry(conversa).or_default();
            falas.extend(textos.iter().map(|texto| Fala {
                de: de.clone(),
                do_atendente: false,
                texto: texto.clone(),
            }));
            self.enviar(atendente, DoBroker::NaEspera { conversa, textos });
        }
    }

    /// Rule 19: an agent hands one of its chats to a colleague with a free place or to a
    /// department's line.
    fn transferir(&mut self, sessao: SessaoId, conversa: u64, destino: &Destino) {
        let dados = &self.sessoes[&sessao];
        let Some(&(_, cliente)) = dados.conversas.iter().find(|&&(c, _)| c == conversa) else {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::SemConversa));
        };
        match destino {
            Destino::Atendente(nome) => {
                let nome = nome.trim().trim_start_matches('@').to_lowercase();
                let colega = self
                    .sessoes
                    .iter()
                    .find(|(_, d)| !d.cliente && d.nome.to_lowercase() == nome)
                    .map(|(&id, d)| (id, d.lugar));
                match colega {
                    Some((colega, Lugar::Livre)) if colega != sessao => {
                        self.passar_a_colega(sessao, conversa, cliente, colega)
                    }
                    _ => self.enviar(sessao, DoBroker::erro(CodigoErro::TransferenciaRecusada)),
                }
            }
            Destino::Departamento(nome) => match normalizar_departamento(nome) {
                Ok(departamento) if !self.conhecido(&departamento) => {
                    self.enviar(sessao, DoBroker::erro(CodigoErro::TransferenciaRecusada))
                }
                Ok(departamento) => self.passar_a_fila(sessao, conversa, cliente, departamento),
                Err(_) => self.enviar(sessao, DoBroker::erro(CodigoErro::TransferenciaRecusada)),
            },
        }
    }

    /// The first agent lets go of a chat it hands over to `para`.
    fn largar(&mut self, sessao: SessaoId, conversa: u64, cliente: SessaoId, para: String) {
        self.anotar(conversa, cliente);
        let motivo = MotivoFim::Transferido;
        self.enviar(sessao, DoBroker::Fim { conversa, motivo });
        self.linhas.livres.retain(|&s| s != sessao);
        let dados = self.sessoes.get_mut(&sessao).expect("exists");
        dados.conversas.retain(|&(c, _)| c != conversa);
        self.enviar(cliente, DoBroker::Transferido { conversa, para });
    }

    fn passar_a_colega(
        &mut self,
        sessao: SessaoId,
        conversa: u64,
        cliente: SessaoId,
        colega: SessaoId,
    ) {
        let para = self.sessoes[&colega].nome.clone();
        self.largar(sessao, conversa, cliente, para);
        self.linhas.livres.retain(|&s| s != colega);
        self.sessoes
            .get_mut(&colega)
            .expect("exists")
            .conversas
            .push((conversa, cliente));
        self.sessoes.get_mut(&cliente).expect("exists").lugar = Lugar::Conversa {
            parceiro: colega,
            conversa,
        };
        self.apresentar(cliente, colega, conversa, true);
        self.liberar(colega);
        self.liberar(sessao);
    }

    fn passar_a_fila(
        &mut self,
        sessao: SessaoId,
        conversa: u64,
        cliente: SessaoId,
        departamento: String,
    ) {
        self.largar(sessao, conversa, cliente, departamento.clone());
        self.prazos.remove(&conversa);
        let dados = self.sessoes.get_mut(&cliente).expect("exists");
        dados.departamentos = vec![departamento];
        dados.transferida = Some(conversa);
        self.colocar(cliente);
        self.liberar(sessao);
    }

    /// A customer joins (or rejoins) its line, or takes the free agent of its department with
    /// the fewest chats (then the longest idle).
    fn colocar(&mut self, cliente: SessaoId) {
        let departamento = self.sessoes[&cliente].departamentos[0].clone();
        let sessoes = &self.sessoes;
        let livre = self.linhas.tomar_livre(
            |a| sessoes[&a].departamentos.contains(&departamento),
            |a| sessoes[&a].conversas.len(),
        );
        if let Some(atendente) = livre {
            self.parear(cliente, atendente);
            return self.liberar(atendente);
        }
        let chegada = self.sessoes[&cliente].chegada;
        self.linhas
            .entrar(&departamento, cliente, chegada, |s| sessoes[&s].chegada);
        self.sessoes.get_mut(&cliente).expect("exists").lugar = Lugar::Aguardando;
        self.informar(cliente, true);
    }

    /// An agent in no free line: while it has room it takes the longest-waiting customer of its
    /// departments, then joins the free line if room is left (or just stops, when paused).
    fn liberar(&mut self, atendente: SessaoId) {
        loop {
            let dados = &self.sessoes[&atendente];
            if dados.pausado {
                self.sessoes.get_mut(&atendente).expect("exists").lugar = Lugar::Pausado;
                return;
            }
            if dados.conversas.len() >= dados.capacidade {
                self.sessoes.get_mut(&atendente).expect("exists").lugar = Lugar::Lotado;
                return;
            }
            let sessoes = &self.sessoes;
            let proximo = self
                .linhas
                .tomar_cliente(&dados.departamentos, |c| sessoes[&c].chegada);
            match proximo {
                Some(cliente) => self.parear(cliente, atendente),
                None => {
                    self.linhas.livres.push(atendente);
                    self.sessoes.get_mut(&atendente).expect("exists").lugar = Lugar::Livre;
                    return;
                }
            }
        }
    }

    /// An agent's chat ended: it has room again.
    fn soltar(&mut self, atendente: SessaoId, conversa: u64) {
        self.linhas.livres.retain(|&s| s != atendente);
        let dados = self.sessoes.get_mut(&atendente).expect("exists");
        dados.conversas.retain(|&(c, _)| c != conversa);
        self.liberar(atendente);
    }

    fn sair(&mut self, sessao: SessaoId, por_vontade: bool) {
        let Some(dados) = self.sessoes.remove(&sessao) else {
            return;
        };
        self.linhas.retirar(sessao);
        if dados.esperando_o_primeiro {
            let departamento = dados.departamentos[0].clone();
            self.contagem.entry(departamento).or_default().abandonos += 1;
        }
        let motivo = match (dados.cliente, por_vontade) {
            (true, true) => MotivoFim::ClienteSaiu,
            (true, false) => MotivoFim::ClienteDesconectou,
            (false, true) => MotivoFim::AtendenteSaiu,
            (false, false) => MotivoFim::AtendenteDesconectou,
        };
        let mut propria = 0;
        if let Lugar::Conversa { parceiro, conversa } = dados.lugar {
            propria = conversa;
            let desde = self.desde_ms.remove(&conversa).expect("chat started");
            let duracao = self.agora_ms - desde;
            let departamento = dados.departamentos[0].clone();
            self.duracoes.entry(departamento).or_default().push(duracao);
            self.enviar(parceiro, DoBroker::Fim { conversa, motivo });
            self.soltar(parceiro, conversa);
        }
        for &(conversa, cliente) in &dados.conversas {
            self.enviar(cliente, DoBroker::Fim { conversa, motivo });
        }
        let mut clientes: Vec<SessaoId> = dados.conversas.iter().map(|&(_, c)| c).collect();
        clientes.sort_by_key(|c| self.sessoes[c].chegada);
        for cliente in clientes {
            self.colocar(cliente);
        }
        if por_vontade {
            let conversa = propria;
            self.enviar(sessao, DoBroker::Fim { conversa, motivo });
        }
        self.fechar(sessao);
    }

    /// Rule 6: a line reaches the other side of its chat.
    fn repassar(&mut self, sessao: SessaoId, conversa: u64, texto: &str) {
        let dados = &self.sessoes[&sessao];
        if dados.lugar == Lugar::Aguardando {
            return self.guardar(sessao, conversa, texto);
        }
        let (conversas, conversa): (Vec<(u64, SessaoId)>, u64) = match dados.lugar {
            // A customer's line for conversation 0 goes to its chat.
            Lugar::Conversa {
                parceiro,
                conversa: sua,
            } => (
                vec![(sua, parceiro)],
                if conversa == 0 { sua } else { conversa },
            ),
            _ => (dados.conversas.clone(), conversa),
        };
        let Some(&(_, parceiro)) = conversas.iter().find(|&&(c, _)| c == conversa) else {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::SemConversa));
        };
        if validar_texto(texto).is_err() {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::TextoInvalido));
        }
        let de = dados.nome.clone();
        let texto = texto.to_owned();
        if !dados.cliente {
            self.prazos.remove(&conversa);
        }
        self.falas.entry(conversa).or_default().push(Fala {
            de: de.clone(),
            do_atendente: !dados.cliente,
            texto: texto.clone(),
        });
        self.enviar(
            parceiro,
            DoBroker::Mensagem {
                conversa,
                de,
                texto,
            },
        );
    }

    /// Rule 22: a waiting customer's line is kept for its agent.
    fn guardar(&mut self, sessao: SessaoId, conversa: u64, texto: &str) {
        let dados = &self.sessoes[&sessao];
        if conversa != 0 && dados.transferida != Some(conversa) {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::SemConversa));
        }
        if validar_texto(texto).is_err() {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::TextoInvalido));
        }
        if dados.na_espera.len() >= proto::NA_ESPERA_MAXIMO {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::EsperaCheia));
        }
        let dados = self.sessoes.get_mut(&sessao).expect("exists");
        dados.na_espera.push(texto.to_owned());
    }

    /// Rule 8: the agent ends one of its chats.
    fn encerrar(&mut self, sessao: SessaoId, conversa: u64) {
        let dados = &self.sessoes[&sessao];
        let Some(&(_, cliente)) = dados.conversas.iter().find(|&&(c, _)| c == conversa) else {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::SemConversa));
        };
        self.anotar(conversa, cliente);
        let fim = DoBroker::Fim {
            conversa,
            motivo: MotivoFim::AtendenteEncerrou,
        };
        self.enviar(cliente, fim.clone());
        self.enviar(sessao, fim);
        // Rule 23: the customer is asked to rate the chat.
        self.sessoes.get_mut(&cliente).expect("exists").lugar = Lugar::Avaliando {
            conversa,
            prazo_ms: self.agora_ms + PRAZO_AVALIACAO_MS,
        };
        let prazo_s = PRAZO_AVALIACAO_MS.div_ceil(1000) as u32;
        self.enviar(cliente, DoBroker::Avaliacao { conversa, prazo_s });
        self.soltar(sessao, conversa);
    }

    fn receber(&mut self, sessao: SessaoId, quadro: &ParaBroker) {
        let Some(dados) = self.sessoes.get(&sessao).cloned() else {
            return;
        };
        match quadro {
            ParaBroker::Apresentacao(_) => {
                self.enviar(sessao, DoBroker::erro(CodigoErro::ApresentacaoRepetida))
            }
            // Acknowledgements only trim what resumes keep; they change nothing else.
            ParaBroker::Recebidos { .. } => {}
            ParaBroker::Mensagem {
                conversa, texto, ..
            } => self.repassar(sessao, *conversa, texto),
            ParaBroker::Encerrar { .. } if dados.cliente => self.sair(sessao, true),
            ParaBroker::Encerrar { conversa, .. } => self.encerrar(sessao, *conversa),
            ParaBroker::Sair { .. } => self.sair(sessao, true),
            ParaBroker::Pong => {}
            ParaBroker::Transferir { .. } if dados.cliente => {
                self.enviar(sessao, DoBroker::erro(CodigoErro::ApenasAtendente))
            }
            ParaBroker::Transferir {
                conversa, destino, ..
            } => self.transferir(sessao, *conversa, destino),
            ParaBroker::Avaliar { conversa, nota, .. } => self.avaliar(sessao, *conversa, *nota),
            ParaBroker::Pausar { .. } | ParaBroker::Voltar { .. } if dados.cliente => {
                self.enviar(sessao, DoBroker::erro(CodigoErro::ApenasAtendente))
            }
            ParaBroker::Pausar { .. } => {
                let dados = self.sessoes.get_mut(&sessao).expect("exists");
                dados.pausado = true;
                dados.lugar = Lugar::Pausado;
                self.linhas.livres.retain(|&s| s != sessao);
                self.enviar(sessao, DoBroker::Pausa { pausado: true });
            }
            ParaBroker::Voltar { .. } => {
                let dados = self.sessoes.get_mut(&sessao).expect("exists");
                dados.pausado = false;
                let parado = dados.lugar == Lugar::Pausado;
                self.enviar(sessao, DoBroker::Pausa { pausado: false });
                if parado {
                    self.liberar(sessao);
                }
            }
        }
    }

    /// Customers waiting in an agent's departments.
    fn espera_de(&self, atendente: SessaoId) -> u32 {
        self.sessoes[&atendente]
            .departamentos
            .iter()
            .filter_map(|d| self.linhas.filas.get(d))
            .map(|f| f.len() as u32)
            .sum()
    }

    fn entrar(&mut self, nome: &str, papel: Papel) {
        self.ultima_sessao += 1;
        let sessao = self.ultima_sessao;
        let Ok(nome) = validar_nome(nome) else {
            return self.recusar(sessao, CodigoErro::NomeInvalido);
        };
        let (cliente, brutos, capacidade) = match papel {
            Papel::Cliente { departamento } => (true, vec![departamento], 1),
            Papel::Atendente {
                departamentos,
                capacidade,
            } => (false, departamentos, capacidade.max(1)),
            Papel::Supervisor => return self.recusar(sessao, CodigoErro::NaoAutorizado),
        };
        let mut departamentos: Vec<String> = Vec::new();
        for bruto in &brutos {
            let Ok(departamento) = normalizar_departamento(bruto) else {
                return self.recusar(sessao, CodigoErro::DepartamentoInvalido);
            };
            if !self.conhecido(&departamento) {
                return self.recusar(sessao, CodigoErro::DepartamentoInvalido);
            }
            if !departamentos.contains(&departamento) {
                departamentos.push(departamento);
            }
        }
        if departamentos.is_empty() {
            return self.recusar(sessao, CodigoErro::DepartamentoInvalido);
        }
        let cheia = self
            .linhas
            .filas
            .get(&departamentos[0])
            .is_some_and(|fila| fila.len() >= FILA_MAXIMA);
        if cliente && cheia {
            return self.recusar(sessao, CodigoErro::FilaCheia);
        }
        let nome_em_uso = self
            .sessoes
            .values()
            .any(|s| !s.cliente && s.nome.to_lowercase() == nome.to_lowercase());
        if !cliente && nome_em_uso {
            return self.recusar(sessao, CodigoErro::NomeEmUso);
        }
        if cliente {
            self.ultima_chegada += 1;
        }
        self.sessoes.insert(
            sessao,
            SessaoModelo {
                nome,
                cliente,
                departamentos,
                chegada: self.ultima_chegada,
                entrou_em_ms: self.agora_ms,
                lugar: Lugar::Aguardando,
                capacidade: usize::from(capacidade),
                conversas: Vec::new(),
                informada: (0, 0, None),
                na_espera: Vec::new(),
                pausado: false,
                espera_informada: 0,
                transferida: None,
                esperando_o_primeiro: cliente,
            },
        );
        if cliente {
            let departamento = self.sessoes[&sessao].departamentos[0].clone();
            self.contagem.entry(departamento).or_default().chegadas += 1;
        }
        self.enviar(
            sessao,
            DoBroker::BemVindo {
                sessao,
                batimento_ms: Parametros::default().batimento_ms,
                ficha: [0; 16],
                tolerancia_ms: 0,
                retomada: false,
                ultima_aceita: 0,
                mensagens_por_segundo: Parametros::default().ritmo.0,
                rajada: Parametros::default().ritmo.1,
                capacidade,
            },
        );
        if !self.configurados.is_empty() {
            let nomes = self.configurados.clone();
            self.enviar(sessao, DoBroker::Departamentos { nomes });
        }
        if cliente {
            self.colocar(sessao);
        } else {
            let clientes = self.espera_de(sessao);
            self.sessoes
                .get_mut(&sessao)
                .expect("exists")
                .espera_informada = clientes;
            self.enviar(sessao, DoBroker::Espera { clientes });
            self.liberar(sessao);
        }
    }

    /// Rule 18: an agent who has not answered a chat by its deadline loses the customer (who
    /// goes back to its line) and is paused.
    fn cobrar_respostas(&mut self) {
        // Earliest deadline first (a transferred chat's deadline starts again).
        let mut vencidas: Vec<(u64, u64)> = self
            .prazos
            .iter()
            .filter(|&(_, &prazo)| prazo <= self.agora_ms)
            .map(|(&conversa, &prazo)| (prazo, conversa))
            .collect();
        vencidas.sort_unstable();
        for (_, conversa) in vencidas {
            self.prazos.remove(&conversa);
            let dono = self.sessoes.iter().find_map(|(&id, dados)| {
                let (_, cliente) = dados.conversas.iter().find(|&&(c, _)| c == conversa)?;
                Some((id, *cliente))
            });
            let Some((atendente, cliente)) = dono else {
                continue; // The chat has ended.
            };
            self.anotar(conversa, cliente);
            let motivo = MotivoFim::SemResposta;
            self.enviar(atendente, DoBroker::Fim { conversa, motivo });
            self.sessoes.get_mut(&atendente).expect("exists").pausado = true;
            self.soltar(atendente, conversa);
            self.enviar(atendente, DoBroker::Pausa { pausado: true });
            // The chat goes on with the next agent, who gets its lines so far.
            self.sessoes.get_mut(&cliente).expect("exists").transferida = Some(conversa);
            self.colocar(cliente);
        }
    }

    /// Rule 23: a customer rates the chat it was asked about, and its session ends.
    fn avaliar(&mut self, sessao: SessaoId, conversa: u64, nota: u8) {
        let pedida = matches!(
            self.sessoes[&sessao].lugar,
            Lugar::Avaliando { conversa: c, .. } if c == conversa
        );
        if !pedida || !(1..=5).contains(&nota) {
            return self.enviar(sessao, DoBroker::erro(CodigoErro::AvaliacaoInvalida));
        }
        self.despedir(sessao, MotivoFim::ClienteSaiu);
    }

    /// A customer's session ends outside any chat.
    fn despedir(&mut self, sessao: SessaoId, motivo: MotivoFim) {
        self.enviar(
            sessao,
            DoBroker::Fim {
                conversa: 0,
                motivo,
            },
        );
        self.sessoes.remove(&sessao);
        self.fechar(sessao);
    }

    fn tick(&mut self) {
        self.cobrar_respostas();
        let mut vencidas: Vec<(u64, SessaoId)> = self
            .sessoes
            .iter()
            .filter_map(|(&id, dados)| match dados.lugar {
                Lugar::Avaliando { prazo_ms, .. } if prazo_ms <= self.agora_ms => {
                    Some((prazo_ms, id))
                }
                _ => None,
            })
            .collect();
        vencidas.sort_unstable();
        for (_, sessao) in vencidas {
            self.despedir(sessao, MotivoFim::AtendenteEncerrou);
        }
        let aguardando: Vec<SessaoId> = self.linhas.filas.values().flatten().copied().collect();
        for sessao in aguardando {
            self.informar(sessao, false);
        }
        let atendentes: Vec<SessaoId> = self
            .sessoes
            .iter()
            .filter(|(_, s)| !s.cliente)
            .map(|(&id, _)| id)
            .collect();
        for atendente in atendentes {
            let clientes = self.espera_de(atendente);
            let dados = self.sessoes.get_mut(&atendente).expect("exists");
            if dados.espera_informada != clientes {
                dados.espera_informada = clientes;
                self.enviar(atendente, DoBroker::Espera { clientes });
            }
        }
    }
}

struct Referencia;

impl ReferenceStateMachine for Referencia {
    type State = Modelo;
    type Transition = Passo;

    fn init_state() -> BoxedStrategy<Modelo> {
        // Free department names in some runs, a fixed list (without `suporte`) in others.
        prop_oneof![
            Just(Vec::new()),
            Just(vec!["geral".to_owned(), "vendas".to_owned()]),
        ]
        .prop_map(|configurados| Modelo {
            configurados,
            ..Modelo::default()
        })
        .boxed()
    }

    fn transitions(estado: &Modelo) -> BoxedStrategy<Passo> {
        let nome = select(NOMES).prop_map(str::to_owned);
        let departamento = select(DEPARTAMENTOS).prop_map(str::to_owned);
        let entra_cliente =
            (nome.clone(), departamento.clone()).prop_map(|(nome, departamento)| Passo::Entra {
                nome,
                papel: Papel::Cliente { departamento },
            });
        let entra_atendente = (nome, proptest::collection::vec(departamento, 0..3), 0..=3u8)
            .prop_map(|(nome, departamentos, capacidade)| Passo::Entra {
                nome,
                papel: Papel::Atendente {
                    departamentos,
                    capacidade,
                },
            });
        // Mostly live sessions; sometimes one that is gone, which must change nothing.
        let sessao = 1..=estado.ultima_sessao.max(1);
        let sessao = if estado.sessoes.is_empty() {
            sessao.boxed()
        } else {
            let vivas: Vec<SessaoId> = estado.sessoes.keys().copied().collect();
            prop_oneof![4 => select(vivas), 1 => sessao].boxed()
        };
        let quadro = prop_oneof![
            1 => Just(ParaBroker::Encerrar { conversa: 0, seq: 0 }),
            2 => Just(ParaBroker::Sair { seq: 0 }),
            1 => Just(ParaBroker::Pausar { seq: 0 }),
            1 => Just(ParaBroker::Voltar { seq: 0 }),
            1 => Just(ParaBroker::Apresentacao(Apresentacao::cliente("Outra", "geral"))),
            1 => Just(ParaBroker::Pong),
        ];
        let envia =
            (sessao.clone(), quadro).prop_map(|(sessao, quadro)| Passo::Envia { sessao, quadro });
        // Chat lines and ends mostly for one of the sender's conversations; sometimes for an
        // old or unknown one, as a peer that has not yet read its Fim would send.
        let conversas: BTreeMap<SessaoId, Vec<u64>> = estado
            .sessoes
            .iter()
            .map(|(&id, dados)| match dados.lugar {
                Lugar::Conversa { conversa, .. } | Lugar::Avaliando { conversa, .. } => {
                    (id, vec![conversa])
                }
                _ => (id, dados.conversas.iter().map(|&(c, _)| c).collect()),
            })
            .collect();
        let escolher = move |sessao: SessaoId, qual: Index, outra: Option<u64>| {
            outra.unwrap_or_else(|| match conversas.get(&sessao) {
                Some(suas) if !suas.is_empty() => suas[qual.index(suas.len())],
                _ => 0,
            })
        };
        let outra = prop_oneof![4 => Just(None), 1 => (0..5u64).prop_map(Some)];
        let alvo = (sessao.clone(), any::<Index>(), outra);
        let escolher_fim = escolher.clone();
        let escolher_nota = escolher.clone();
        let avalia =
            (alvo.clone(), 0..=6u8).prop_map(move |((sessao, qual, outra), nota)| Passo::Envia {
                sessao,
                quadro: ParaBroker::Avaliar {
                    conversa: escolher_nota(sessao, qual, outra),
                    nota,
                    seq: 0,
                },
            });
        let escolher_transferencia = escolher.clone();
        let destino = prop_oneof![
            select(DEPARTAMENTOS).prop_map(|d| Destino::Departamento(d.to_owned())),
            select(DESTINOS_ATENDENTE).prop_map(|n| Destino::Atendente(n.to_owned())),
        ];
        let transfere =
            (alvo.clone(), destino).prop_map(move |((sessao, qual, outra), destino)| {
                Passo::Envia {
                    sessao,
                    quadro: ParaBroker::Transferir {
                        conversa: escolher_transferencia(sessao, qual, outra),
                        destino,
                        seq: 0,
                    },
                }
            });
        let encerra = alvo
            .clone()
            .prop_map(move |(sessao, qual, outra)| Passo::Envia {
                sessao,
                quadro: ParaBroker::Encerrar {
                    conversa: escolher_fim(sessao, qual, outra),
                    seq: 0,
                },
            });
        let diz =
            (alvo, select(TEXTOS)).prop_map(move |((sessao, qual, outra), texto)| Passo::Envia {
                sessao,
                quadro: ParaBroker::Mensagem {
                    conversa: escolher(sessao, qual, outra),
                    texto: texto.to_owned(),
                    seq: 0,
                },
            });
        let cai = sessao.prop_map(|sessao| Passo::Cai { sessao });
        prop_oneof![
            4 => entra_cliente,
            3 => entra_atendente,
            3 => envia,
            2 => encerra,
            2 => transfere,
            6 => diz,
            2 => cai,
            2 => avalia,
            3 => Just(Passo::Tick),
        ]
        .boxed()
    }

    fn apply(mut estado: Modelo, passo: &Passo) -> Modelo {
        estado.recebido.clear();
        estado.agora_ms += PASSO_MS;
        match passo {
            Passo::Entra { nome, papel } => estado.entrar(nome, papel.clone()),
            Passo::Envia { sessao, quadro } => estado.receber(*sessao, quadro),
            Passo::Cai { sessao } => estado.sair(*sessao, false),
            Passo::Tick => estado.tick(),
        }
        estado
    }
}

/// The line limit of the machine under test: small, so that full lines happen.
const FILA_MAXIMA: usize = 3;

/// How much time passes between two steps.
const PASSO_MS: u64 = 1000;

/// How long an agent has to answer a new chat: a few steps, so that some chats are answered
/// in time and some are not.
const PRAZO_RESPOSTA_MS: u64 = 3500;

/// How long a customer has to rate a chat its agent ended: a few steps too.
const PRAZO_AVALIACAO_MS: u64 = 2500;

/// The state machine under test, with the id the next handshake gets and the current time.
struct Sistema {
    maquina: Matchmaker,
    ultima_sessao: SessaoId,
    agora: Duration,
    /// What the machine measured so far, counted per department as the model counts.
    contagem: BTreeMap<String, Contagem>,
}

impl StateMachineTest for Sistema {
    type SystemUnderTest = Sistema;
    type Reference = Referencia;

    fn init_test(modelo: &Modelo) -> Sistema {
        Sistema {
            maquina: Matchmaker::com_parametros(Parametros {
                fila_maxima: FILA_MAXIMA,
                prazo_resposta: Duration::from_millis(PRAZO_RESPOSTA_MS),
                prazo_avaliacao: Duration::from_millis(PRAZO_AVALIACAO_MS),
                departamentos: modelo.configurados.clone(),
                medidas: true,
                ..Parametros::default()
            }),
            ultima_sessao: 0,
            agora: Duration::ZERO,
            contagem: BTreeMap::new(),
        }
    }

    fn apply(mut sistema: Sistema, modelo: &Modelo, passo: Passo) -> Sistema {
        sistema.agora += Duration::from_millis(PASSO_MS);
        let agora = sistema.agora;
        let efeitos = match passo {
            Passo::Entra { nome, papel } => {
                sistema.ultima_sessao += 1;
                sistema.maquina.aplicar(
                    Evento::Entrou {
                        sessao: sistema.ultima_sessao,
                        apresentacao: Apresentacao {
                            versao: proto::VERSAO_PROTOCOLO,
                            nome,
                            papel,
                            token: None,
                            retomar: None,
                        },
                        ficha: [sistema.ultima_sessao as u8; 16],
                    },
                    agora,
                )
            }
            Passo::Envia { sessao, quadro } => sistema
                .maquina
                .aplicar(Evento::Recebeu { sessao, quadro }, agora),
            Passo::Cai { sessao } => sistema.maquina.aplicar(Evento::Caiu { sessao }, agora),
            Passo::Tick => sistema.maquina.tick(agora),
        };
        let mut recebido: BTreeMap<SessaoId, Vec<Recebido>> = BTreeMap::new();
        for efeito in efeitos {
            let (para, item) = match efeito {
                Efeito::Enviar {
                    para,
                    quadro: DoBroker::Erro { codigo, .. },
                } => (para, Recebido::Erro(codigo)),
                Efeito::Enviar { para, quadro } => (para, Recebido::Quadro(quadro)),
                Efeito::Fechar { sessao } => (sessao, Recebido::Fechado),
                Efeito::Registrar(_) | Efeito::ConsultarAnteriores { .. } => continue,
                // Resumes are off here (they have tests of their own).
                outro @ (Efeito::Desligar { .. }
                | Efeito::Retomar { .. }
                | Efeito::Reenviar { .. }) => panic!("efeito de retomada sem retomada: {outro:?}"),
            };
            recebido.entry(para).or_default().push(item);
        }
        assert_eq!(
            recebido, modelo.recebido,
            "os quadros enviados divergem do modelo"
        );
        for medida in sistema.maquina.tirar_medidas() {
            sistema.contar(medida);
        }
        sistema
    }

    fn check_invariants(sistema: &Sistema, modelo: &Modelo) {
        if let Err(problema) = sistema.maquina.checar_invariantes() {
            panic!("invariante violado: {problema}");
        }
        assert_eq!(sistema.maquina.sessoes(), modelo.sessoes.len());
        for (&sessao, dados) in &modelo.sessoes {
            let esperado = match dados.lugar {
                Lugar::Aguardando => Situacao::Aguardando {
                    departamento: &dados.departamentos[0],
                    posicao: modelo.posicao(sessao).expect("waiting") as usize,
                },
                Lugar::Livre => Situacao::Livre,
                Lugar::Lotado => Situacao::Lotado,
                Lugar::Pausado => Situacao::Parado,
                Lugar::Avaliando { conversa, .. } => Situacao::Avaliando { conversa },
                Lugar::Conversa { parceiro, conversa } => {
                    Situacao::EmConversa { parceiro, conversa }
                }
            };
            assert_eq!(
                sistema.maquina.situacao(sessao),
                Some(esperado),
                "sessão {sessao}"
            );
            if !dados.cliente {
                assert_eq!(
                    sistema.maquina.conversas_de(sessao),
                    dados.conversas,
                    "conversas do atendente {sessao}"
                );
            }
        }
        for (departamento, fila) in &modelo.linhas.filas {
            assert_eq!(&sistema.maquina.fila_clientes(departamento), fila);
        }
        let livres = modelo
            .linhas
            .livres_em_ordem(|a| modelo.sessoes[&a].conversas.len());
        assert_eq!(sistema.maquina.fila_atendentes(), livres);
        assert_eq!(sistema.contagem, modelo.contagem, "medidas do supervisor");
        conferir_painel(sistema, modelo);
        // Every frame went to a session that exists or just left.
        for sessao in modelo.recebido.keys() {
            assert!(*sessao <= modelo.ultima_sessao);
        }
    }
}

impl Sistema {
    /// Counts one of the machine's measures the way the model counts.
    fn contar(&mut self, medida: Medida) {
        match medida {
            Medida::Chegada { departamento } => {
                self.contagem.entry(departamento).or_default().chegadas += 1;
            }
            Medida::Atendido {
                departamento,
                espera,
            } => {
                let contagem = self.contagem.entry(departamento).or_default();
                contagem.atendidos += 1;
                contagem.espera_ms += espera.as_millis() as u64;
            }
            Medida::Abandono { departamento, .. } => {
                self.contagem.entry(departamento).or_default().abandonos += 1;
            }
            Medida::Atendimento { .. } | Medida::Transferencia { .. } => {}
        }
    }
}

/// The supervisor's panel agrees with the model: each line's length, and every agent's state
/// and chats, by name.
fn conferir_painel(sistema: &Sistema, modelo: &Modelo) {
    let painel = sistema.maquina.painel(sistema.agora);
    for linha in &painel.departamentos {
        let fila = modelo.linhas.filas.get(&linha.nome).map_or(0, Vec::len);
        assert_eq!(linha.aguardando as usize, fila, "fila de {}", linha.nome);
    }
    for (departamento, fila) in &modelo.linhas.filas {
        let no_painel = painel
            .departamentos
            .iter()
            .find(|d| &d.nome == departamento);
        assert_eq!(no_painel.map_or(0, |d| d.aguardando as usize), fila.len());
    }
    let mut atendentes: Vec<(String, EstadoAtendente, Vec<u64>)> = modelo
        .sessoes
        .values()
        .filter(|s| !s.cliente)
        .map(|s| {
            let estado = match (s.pausado, s.conversas.is_empty()) {
                (true, _) => EstadoAtendente::Pausado,
                (false, false) => EstadoAtendente::EmConversa,
                (false, true) => EstadoAtendente::Livre,
            };
            let conversas = s.conversas.iter().map(|&(c, _)| c).collect();
            (s.nome.clone(), estado, conversas)
        })
        .collect();
    atendentes.sort_by(|a, b| a.0.cmp(&b.0));
    let no_painel: Vec<(String, EstadoAtendente, Vec<u64>)> = painel
        .atendentes
        .iter()
        .map(|a| {
            let conversas = a.conversas.iter().map(|c| c.conversa).collect();
            (a.nome.clone(), a.estado, conversas)
        })
        .collect();
    assert_eq!(no_painel, atendentes, "atendentes no painel");
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 4096,
        .. ProptestConfig::default()
    })]

    /// Random sequences of up to 50 steps behave exactly as the model says.
    #[test]
    fn matchmaking_segue_o_modelo(sequential 1..=50 => Sistema);
}
