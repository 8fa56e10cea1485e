//! Deterministic network simulation (turmoil): a broker, agents and customers on a simulated
//! network with random delays, partitions, an agent that vanishes mid-chat and comes back, and
//! customers whose connections die and who reconnect — over many seeds. After each run the log
//! of everything every peer received must show that no message reached the wrong pair, order held
//! within each pair, nothing was duplicated, no customer was lost or served twice, and no
//! customer's shown position went up while it waited except when an agent dropped.
//!
//! The same runs go again with resumes on: then every peer's handle resumes its session after a
//! cut instead of starting anew, and on top of the above each customer must have been one
//! session from start to end, with every line echoed exactly once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker::{Broker, Config, Ouvinte};
use futures::StreamExt;
use proto::cliente::{Conector, Transporte};
use proto::{Apresentacao, Conexao, DoBroker, MotivoFim, ParaBroker, TAMANHO_MAXIMO_QUADRO};
use tests::{TOKEN_DE_TESTE, config_de_teste};

/// Seeds run by the suite, without and with resumes.
const SEMENTES: u64 = 200;
const PORTA: u16 = 7878;
const CLIENTES: usize = 4;
const MENSAGENS: u32 = 4;
const ATENDENTES: [&str; 2] = ["a1", "a2"];

/// turmoil's listener, as the broker's source of connections.
struct OuvinteSimulado(turmoil::net::TcpListener);

impl Ouvinte for OuvinteSimulado {
    type Conexao = turmoil::net::TcpStream;

    fn aceitar(
        &mut self,
    ) -> impl Future<Output = std::io::Result<(turmoil::net::TcpStream, SocketAddr)>> + Send {
        self.0.accept()
    }
}

/// One thing a peer saw, when, in which of its sessions.
#[derive(Debug, Clone)]
struct Registro {
    quem: String,
    sessao: u64,
    quando: Duration,
    quadro: DoBroker,
}

type Diario = Arc<Mutex<Vec<Registro>>>;

fn anotar(diario: &Diario, quem: &str, sessao: u64, quadro: &DoBroker) {
    if matches!(quadro, DoBroker::Espera { .. }) {
        return;
    }
    diario.lock().expect("log").push(Registro {
        quem: quem.to_owned(),
        sessao,
        quando: turmoil::elapsed(),
        quadro: quadro.clone(),
    });
}

/// Connects over the simulated network; with `retomar`, the handle can connect again by itself
/// to resume the session.
async fn conectar(apresentacao: Apresentacao, retomar: bool) -> Option<Conexao> {
    if retomar {
        let conector: Conector = Arc::new(|| {
            Box::pin(async {
                let socket = turmoil::net::TcpStream::connect(("broker", PORTA)).await?;
                Ok(Box::new(socket) as Box<dyn Transporte>)
            })
        });
        return Conexao::com_conector(conector, apresentacao, TAMANHO_MAXIMO_QUADRO)
            .await
            .ok();
    }
    let socket = turmoil::net::TcpStream::connect(("broker", PORTA))
        .await
        .ok()?;
    Conexao::sobre(socket, apresentacao, TAMANHO_MAXIMO_QUADRO)
        .await
        .ok()
}

/// An agent: echoes every line, and ends some chats itself. Runs until the simulation ends.
async fn atendente(nome: &'static str, diario: Diario, retomar: bool) -> turmoil::Result {
    let mut encerrar_depois = 0;
    loop {
        let apresentacao = Apresentacao::atendente(nome, vec!["geral".into()], TOKEN_DE_TESTE);
        let Some(mut conexao) = conectar(apresentacao, retomar).await else {
            // Refused (maybe its old session is still known) or unreachable: try again.
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let sessao = conexao.sessao;
        let mut respondidas = 0;
        let mut atual = 0;
        while let Some(Ok(quadro)) = conexao.eventos.next().await {
            anotar(&diario, nome, sessao, &quadro);
            match quadro {
                DoBroker::Conectado { conversa, .. } => {
                    respondidas = 0;
                    atual = conversa;
                }
                DoBroker::Mensagem { texto, .. } => {
                    respondidas += 1;
                    // Answered in the conversation the agent believes it is in: if that one has
                    // already ended, the broker refuses the line rather than misdeliver it.
                    let _ = conexao.envio.mensagem(atual, format!("eco {texto}")).await;
                    // a2 ends every third chat after two lines; the customer starts again.
                    encerrar_depois += 1;
                    if nome == "a2" && respondidas == 2 && encerrar_depois % 3 == 0 {
                        let _ = conexao
                            .envio
                            .enviar(ParaBroker::Encerrar {
                                conversa: atual,
                                seq: 0,
                            })
                            .await;
                    }
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A customer: gets an agent, sends its numbered lines one at a time waiting for each echo,
/// then leaves. Connections that die are reopened as new sessions; lines already echoed are not
/// sent again.
async fn cliente(nome: String, diario: Diario, retomar: bool) -> turmoil::Result {
    let mut proxima = 1;
    while proxima <= MENSAGENS {
        let apresentacao = Apresentacao::cliente(nome.clone(), "geral");
        let Some(mut conexao) = conectar(apresentacao, retomar).await else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let sessao = conexao.sessao;
        let mut esperando_eco = false;
        let mut atual = 0;
        while let Some(Ok(quadro)) = conexao.eventos.next().await {
            anotar(&diario, &nome, sessao, &quadro);
            let enviar = match &quadro {
                DoBroker::Conectado { conversa, .. } => {
                    atual = *conversa;
                    true
                }
                DoBroker::Mensagem { texto, .. } if *texto == format!("eco {nome}#{proxima}") => {
                    esperando_eco = false;
                    proxima += 1;
                    true
                }
                DoBroker::Fim { .. } => {
                    esperando_eco = false;
                    false
                }
                _ => false,
            };
            if enviar && !esperando_eco {
                if proxima > MENSAGENS {
                    let _ = conexao.envio.enviar(ParaBroker::Sair { seq: 0 }).await;
                } else {
                    esperando_eco = true;
                    let _ = conexao
                        .envio
                        .mensagem(atual, format!("{nome}#{proxima}"))
                        .await;
                }
            }
        }
    }
    Ok(())
}

/// Runs one seed (with resumes or not) and returns the log.
fn simular(semente: u64, retomar: bool) -> Vec<Registro> {
    let diario: Diario = Arc::default();
    let mut acaso = semente
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut sortear = |maximo: u64| {
        acaso ^= acaso << 13;
        acaso ^= acaso >> 7;
        acaso ^= acaso << 17;
        acaso % maximo.max(1)
    };
    let mut sim = turmoil::Builder::new()
        .rng_seed(semente)
        .simulation_duration(Duration::from_secs(600))
        .min_message_latency(Duration::from_millis(sortear(5)))
        .max_message_latency(Duration::from_millis(5 + sortear(40)))
        .build();

    // Long enough to outlast any cut below (at most 3.3 s, then the handle's back-off).
    let tolerancia = if retomar {
        Duration::from_secs(10)
    } else {
        Duration::ZERO
    };
    sim.host("broker", move || async move {
        let ouvinte =
            turmoil::net::TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORTA)).await?;
        let config = Config {
            intervalo_batimento: Duration::from_millis(500),
            prazo_apresentacao: Duration::from_secs(2),
            tolerancia_retomada: tolerancia,
            ..config_de_teste()
        };
        let endereco = SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORTA));
        let _broker = Broker::sobre(OuvinteSimulado(ouvinte), endereco, config);
        std::future::pending::<()>().await;
        Ok(())
    });
    for nome in ATENDENTES {
        let diario = diario.clone();
        sim.host(nome, move || atendente(nome, diario.clone(), retomar));
    }
    for i in 1..=CLIENTES {
        let nome = format!("c{i}");
        sim.client(nome.clone(), cliente(nome, diario.clone(), retomar));
    }

    // Faults, at times drawn from the seed: a1 vanishes and comes back; one customer is cut off
    // for a while; the network is held (delayed, nothing lost) between a2 and the broker.
    let queda_a1 = 200 + sortear(3000);
    let volta_a1 = queda_a1 + 200 + sortear(3000);
    let cortado = format!("c{}", 1 + sortear(CLIENTES as u64));
    let corte = sortear(4000);
    let reparo = corte + 300 + sortear(3000);
    let retencao = sortear(4000);
    let soltura = retencao + sortear(800);
    let mut passo: u64 = 0;
    loop {
        let agora = sim.elapsed().as_millis() as u64;
        if passo == 0 && agora >= queda_a1 {
            sim.crash("a1");
            passo = 1;
        }
        if passo == 1 && agora >= volta_a1 {
            sim.bounce("a1");
            passo = 2;
        }
        if agora == corte {
            sim.partition(cortado.as_str(), "broker");
        }
        if agora == reparo {
            sim.repair(cortado.as_str(), "broker");
        }
        if agora == retencao {
            sim.hold("a2", "broker");
        }
        if agora == soltura {
            sim.release("a2", "broker");
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(erro) => panic!("semente {semente}: a simulação falhou: {erro}"),
        }
    }
    // The hosts (and their clones of the log) go with the simulation.
    drop(sim);
    Arc::try_unwrap(diario)
        .map(|diario| diario.into_inner().expect("log"))
        .unwrap_or_else(|diario| diario.lock().expect("log").clone())
}

/// Checks one run's log against every property, naming the seed on failure.
fn verificar(semente: u64, registros: &[Registro], retomar: bool) {
    let falha = |o_que: String| -> ! { panic!("semente {semente}: {o_que}") };
    // Conversation id -> (customer name, agent name), from the Conectado frames seen. A side whose
    // connection was cut may never have read its Conectado, so one side is enough; two must agree,
    // and more would be one conversation given to several pairs.
    let mut lados: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for r in registros {
        if let DoBroker::Conectado { com, conversa, .. } = &r.quadro {
            lados
                .entry(*conversa)
                .or_default()
                .push((r.quem.clone(), com.clone()));
        }
    }
    let mut conversas: HashMap<u64, (String, String)> = HashMap::new();
    for (conversa, vistos) in &lados {
        let par = |(quem, com): &(String, String)| {
            if quem.starts_with('c') {
                (quem.clone(), com.clone())
            } else {
                (com.clone(), quem.clone())
            }
        };
        let primeiro = par(&vistos[0]);
        if vistos.len() > 2 || vistos.iter().any(|v| par(v) != primeiro) {
            falha(format!(
                "a conversa {conversa} não é de um só par: {vistos:?}"
            ));
        }
        if vistos.len() == 2 && vistos[0].0.chars().next() == vistos[1].0.chars().next() {
            falha(format!(
                "a conversa {conversa} não é de cliente com atendente: {vistos:?}"
            ));
        }
        if !primeiro.0.starts_with('c') || !primeiro.1.starts_with('a') {
            falha(format!(
                "a conversa {conversa} não é de cliente com atendente: {vistos:?}"
            ));
        }
        conversas.insert(*conversa, primeiro);
    }

    // Per session, in order: which conversation it is in, and what it received there.
    let mut atual: HashMap<(String, u64), Option<u64>> = HashMap::new();
    let mut ultimos: HashMap<(String, u64, u64), u32> = HashMap::new();
    let mut posicoes: HashMap<(String, u64), u32> = HashMap::new();
    let mut requeues: Vec<Duration> = Vec::new();
    let mut ultima_posicao_em: HashMap<(String, u64), Duration> = HashMap::new();
    for r in registros {
        if let DoBroker::Fim {
            motivo: MotivoFim::AtendenteDesconectou | MotivoFim::AtendenteSaiu,
            ..
        } = r.quadro
        {
            requeues.push(r.quando);
        }
    }
    for r in registros {
        let chave = (r.quem.clone(), r.sessao);
        match &r.quadro {
            DoBroker::Conectado { conversa, .. } => {
                if let Some(Some(anterior)) = atual.get(&chave) {
                    falha(format!(
                        "{} sessão {} entrou na conversa {conversa} sem sair da {anterior}",
                        r.quem, r.sessao
                    ));
                }
                atual.insert(chave.clone(), Some(*conversa));
                posicoes.remove(&chave);
            }
            DoBroker::Fim { .. } => {
                atual.insert(chave.clone(), None);
            }
            DoBroker::Mensagem { de, texto, .. } => {
                let Some(Some(conversa)) = atual.get(&chave) else {
                    falha(format!("{} recebeu {texto:?} fora de uma conversa", r.quem));
                };
                let (cliente, atendente) = &conversas[conversa];
                let (esperado_de, prefixo) = if r.quem.starts_with('a') {
                    (cliente, format!("{cliente}#"))
                } else {
                    (atendente, format!("eco {cliente}#"))
                };
                if de != esperado_de || !texto.starts_with(&prefixo) {
                    falha(format!(
                        "{} recebeu {texto:?} de {de} na conversa {conversa} de {cliente} com {atendente}",
                        r.quem
                    ));
                }
                let numero: u32 = texto[prefixo.len()..]
                    .parse()
                    .unwrap_or_else(|_| falha(format!("mensagem estranha: {texto:?}")));
                let chave_par = (r.quem.clone(), r.sessao, *conversa);
                if let Some(anterior) = ultimos.get(&chave_par)
                    && numero <= *anterior
                {
                    falha(format!(
                        "{} recebeu {numero} depois de {anterior} na conversa {conversa}: fora de ordem ou duplicada",
                        r.quem
                    ));
                }
                ultimos.insert(chave_par, numero);
            }
            DoBroker::Fila { posicao, .. } => {
                if let Some(anterior) = posicoes.get(&chave)
                    && posicao > anterior
                {
                    let desde = ultima_posicao_em[&chave];
                    let quedas = requeues
                        .iter()
                        .filter(|t| **t >= desde && **t <= r.quando)
                        .count() as u32;
                    if posicao - anterior > quedas {
                        falha(format!(
                            "{} viu a posição subir de {anterior} para {posicao} sem atendente caindo",
                            r.quem
                        ));
                    }
                }
                posicoes.insert(chave.clone(), *posicao);
                ultima_posicao_em.insert(chave, r.quando);
            }
            _ => {}
        }
    }

    // Every customer was served to the end: each of its lines echoed exactly once, in order.
    for i in 1..=CLIENTES {
        let nome = format!("c{i}");
        let ecos: Vec<u32> = registros
            .iter()
            .filter(|r| r.quem == nome)
            .filter_map(|r| match &r.quadro {
                DoBroker::Mensagem { texto, .. } => texto
                    .strip_prefix(&format!("eco {nome}#"))
                    .and_then(|n| n.parse().ok()),
                _ => None,
            })
            .collect();
        let esperados: Vec<u32> = (1..=MENSAGENS).collect();
        if ecos != esperados {
            falha(format!("{nome} recebeu os ecos {ecos:?}"));
        }
        // With resumes, no cut here outlasts the grace period: a customer starts a new session
        // only after the broker ended the previous one (its agent's `/fim`), never because a
        // connection dropped.
        if retomar {
            let proprios: Vec<&Registro> = registros.iter().filter(|r| r.quem == nome).collect();
            for par in proprios.windows(2) {
                if par[0].sessao != par[1].sessao && !matches!(par[0].quadro, DoBroker::Fim { .. })
                {
                    falha(format!(
                        "{nome} começou a sessão {} sem que a {} tivesse terminado (último quadro: {:?})",
                        par[1].sessao, par[0].sessao, par[0].quadro
                    ));
                }
            }
        }
    }
}

#[test]
fn muitas_sementes_de_falhas_de_rede() {
    for semente in 0..SEMENTES {
        let registros = simular(semente, false);
        verificar(semente, &registros, false);
    }
}

#[test]
fn muitas_sementes_de_falhas_de_rede_com_retomada() {
    for semente in 0..SEMENTES {
        let registros = simular(semente, true);
        verificar(semente, &registros, true);
    }
}
