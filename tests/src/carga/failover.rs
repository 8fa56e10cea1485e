//! `failover`: a cluster of two brokers (child processes on one PostgreSQL database); N
//! sessions chatting through the active, in pairs (a customer and an agent in a department of
//! their own, the customer writing at a steady pace and the agent answering every line); the
//! active killed (SIGKILL) while lines are in flight, or frozen (SIGSTOP: a machine that stopped
//! without closing anything; the apps notice after two heartbeats of silence). Measures how
//! long the standby took to open its port, how long until every session had resumed there, and
//! counts, once everyone has stopped writing and every answer had time to arrive, the lines lost
//! and the lines doubled. A frozen active is thawed at the end and must have stepped down (its
//! port closed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use proto::{Apresentacao, Conexao, DoBroker, Ligacao, Papel};
use serde::Serialize;
use tokio::sync::watch;

use super::processo::{BrokerFilho, esperar_que_aceite, esperar_que_recuse};
use super::{Latencias, TOKEN_EMBUTIDO, barra, em_paralelo, novo_histograma};

/// The shape of a failover run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Forma {
    /// Sessions in all (half customers, half agents).
    pub sessoes: usize,
    /// Time between two lines of one customer.
    pub intervalo: Duration,
    /// Chatting before the active is killed, and again once every session has resumed.
    pub conversa: Duration,
    /// The cluster's lease term.
    pub prazo: Duration,
    /// The brokers' heartbeat interval (`None`: the broker's default).
    pub batimento: Option<Duration>,
    /// Freeze the active instead of killing it.
    pub congelar: bool,
}

/// What a failover run found.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Resultado {
    /// The workload.
    pub forma: Forma,
    /// From the kill until the standby accepted connections, in milliseconds.
    pub assumiu_ms: u64,
    /// From the kill until each session had resumed (over the sessions that did).
    pub retomada: Latencias,
    /// From the kill until the last session had resumed, in milliseconds.
    pub todas_retomadas_ms: u64,
    /// Sessions that resumed on the standby.
    pub retomadas: usize,
    /// Chat lines written (customers' and agents' answers).
    pub linhas: u64,
    /// Lines never delivered.
    pub perdidas: u64,
    /// Deliveries beyond the first of a line.
    pub duplicadas: u64,
    /// (Frozen active) whether, thawed, it stepped down and closed its port.
    pub antigo_saiu: Option<bool>,
}

impl Resultado {
    /// The one summary line.
    pub fn resumo(&self) -> String {
        format!(
            "failover: {} sessões, prazo {}, ativo {}{} | o outro broker assumiu em {} ms | \
             retomadas {}/{}: p50 {} ms, p99 {} ms, todas em {} ms | {} linhas: {} perdidas, {} \
             duplicadas",
            self.forma.sessoes,
            humantime::format_duration(self.forma.prazo),
            if self.forma.congelar {
                "congelado"
            } else {
                "morto"
            },
            match self.antigo_saiu {
                Some(true) => " (e, descongelado, deixou de servir)",
                Some(false) => " (e, descongelado, CONTINUOU SERVINDO)",
                None => "",
            },
            self.assumiu_ms,
            self.retomadas,
            self.forma.sessoes,
            self.retomada.p50_us / 1000,
            self.retomada.p99_us / 1000,
            self.todas_retomadas_ms,
            self.linhas,
            self.perdidas,
            self.duplicadas,
        )
    }
}

/// Runs the scenario: the cluster `cluster` on the PostgreSQL database `banco`, its members
/// started from `executavel` (the load tool itself).
pub async fn executar(executavel: &Path, banco: &str, forma: Forma) -> Result<Resultado, String> {
    let iniciar = || {
        let tempos = (forma.prazo, forma.batimento);
        BrokerFilho::membro_com_batimento(executavel, banco, "carga", tempos)
            .map_err(|erro| format!("não foi possível subir um membro do cluster: {erro}"))
    };
    let mut ativo = iniciar()?;
    esperar_porta(ativo.endereco()).await?;
    let reserva = iniciar()?;
    // The second member has tried the lock and lost by now.
    tokio::time::sleep(forma.prazo).await;
    // As the apps are told: --servidor a,b.
    let membros: Arc<str> = format!("{},{}", ativo.endereco(), reserva.endereco()).into();
    let pares = forma.sessoes.div_ceil(2);
    let (parar, parado) = watch::channel(false);
    let retomadas = Arc::new(AtomicUsize::new(0));
    let progresso = barra(pares as u64, "conectando");
    let mut conectados = em_paralelo(pares, 100, {
        let (membros, retomadas) = (Arc::clone(&membros), Arc::clone(&retomadas));
        move |i| Par::conectar(i, Arc::clone(&membros), Arc::clone(&retomadas))
    });
    let mut tarefas = Vec::with_capacity(pares);
    while let Some(par) = conectados.recv().await {
        progresso.inc(1);
        tarefas.push(tokio::spawn(
            par?.conversar(forma.intervalo, parado.clone()),
        ));
    }
    progresso.finish_and_clear();
    tokio::time::sleep(forma.conversa).await;
    if forma.congelar {
        ativo.congelar();
    } else {
        ativo.matar();
    }
    let morte = Instant::now();
    esperar_porta(reserva.endereco()).await?;
    let assumiu = morte.elapsed();
    let limite = morte + Duration::from_secs(120);
    while retomadas.load(Ordering::SeqCst) < 2 * pares && Instant::now() < limite {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(forma.conversa).await;
    let _ = parar.send(true);
    let mut contas = Vec::with_capacity(pares);
    for tarefa in tarefas {
        contas.push(tarefa.await.map_err(|erro| erro.to_string())?);
    }
    let mut resultado = somar(forma, &contas, morte, assumiu);
    if forma.congelar {
        ativo.descongelar();
        let saiu = esperar_que_recuse(ativo.endereco(), Duration::from_secs(10)).await;
        resultado.antigo_saiu = Some(saiu);
    }
    Ok(resultado)
}

/// Waits until `endereco` accepts connections (its member is the active).
async fn esperar_porta(endereco: SocketAddr) -> Result<(), String> {
    if esperar_que_aceite(endereco, Duration::from_secs(60)).await {
        Ok(())
    } else {
        Err(format!("{endereco} não passou a aceitar conexões"))
    }
}

/// Folds the pairs' counts into the run's result.
fn somar(forma: Forma, contas: &[Contas], morte: Instant, assumiu: Duration) -> Resultado {
    let mut retomada = novo_histograma();
    let mut ultima = Duration::ZERO;
    let mut retomadas = 0;
    for instante in contas.iter().flat_map(|c| c.retomadas.iter()) {
        let passado = instante.saturating_duration_since(morte);
        let _ = retomada.record(passado.as_micros().max(1) as u64);
        ultima = ultima.max(passado);
        retomadas += 1;
    }
    Resultado {
        forma,
        assumiu_ms: assumiu.as_millis() as u64,
        retomada: Latencias::de(&retomada),
        todas_retomadas_ms: ultima.as_millis() as u64,
        retomadas,
        linhas: contas.iter().map(|c| c.escritas).sum(),
        perdidas: contas.iter().map(|c| c.perdidas).sum(),
        duplicadas: contas.iter().map(|c| c.duplicadas).sum(),
        antigo_saiu: None,
    }
}

/// A customer and an agent chatting in a department of their own.
struct Par {
    cliente: Conexao,
    atendente: Conexao,
    conversa: u64,
    retomadas: Arc<AtomicUsize>,
}

/// What one pair counted.
#[derive(Debug, Default)]
struct Contas {
    /// When each of its two sessions resumed.
    retomadas: Vec<Instant>,
    escritas: u64,
    perdidas: u64,
    duplicadas: u64,
}

impl Par {
    async fn conectar(
        indice: usize,
        membros: Arc<str>,
        retomadas: Arc<AtomicUsize>,
    ) -> Result<Par, String> {
        let departamento = format!("d{indice}");
        let abrir = |i: usize, papel: Papel, token: Option<&str>| {
            let apresentacao = Apresentacao {
                token: token.map(str::to_owned),
                papel,
                ..Apresentacao::cliente(format!("p{indice}-{i}"), &departamento)
            };
            let membros = Arc::clone(&membros);
            async move {
                Conexao::conectar_em(&membros, apresentacao)
                    .await
                    .map_err(|erro| format!("par {indice}: {erro}"))
            }
        };
        let papel_do_atendente = Papel::Atendente {
            departamentos: vec![departamento.clone()],
            capacidade: 1,
        };
        let mut atendente = abrir(0, papel_do_atendente, Some(TOKEN_EMBUTIDO)).await?;
        let papel_do_cliente = Papel::Cliente {
            departamento: departamento.clone(),
        };
        let mut cliente = abrir(1, papel_do_cliente, None).await?;
        let conversa = conectado(&mut cliente).await?;
        conectado(&mut atendente).await?;
        Ok(Par {
            cliente,
            atendente,
            conversa,
            retomadas,
        })
    }

    /// Chats until told to stop, then waits for the last answers; counts what was lost or
    /// doubled, and notes when each side resumed.
    async fn conversar(mut self, intervalo: Duration, mut parar: watch::Receiver<bool>) -> Contas {
        let mut contas = Contas::default();
        let mut ligacoes = [self.cliente.ligacao.clone(), self.atendente.ligacao.clone()];
        let mut ao_atendente: HashMap<String, u32> = HashMap::new();
        let mut ao_cliente: HashMap<String, u32> = HashMap::new();
        let mut escritas = 0u64;
        let mut respondidas = 0u64;
        let mut relogio = tokio::time::interval(intervalo);
        let mut fim: Option<tokio::time::Instant> = None;
        loop {
            if fim.is_some() && ao_cliente.len() as u64 >= escritas {
                break;
            }
            let prazo =
                fim.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = relogio.tick(), if fim.is_none() => {
                    escritas += 1;
                    let texto = format!("c{escritas}");
                    let _ = self.cliente.envio.mensagem(self.conversa, texto).await;
                }
                _ = parar.changed(), if fim.is_none() => {
                    // Time for the last lines and their answers to arrive.
                    fim = Some(tokio::time::Instant::now() + Duration::from_secs(10));
                }
                quadro = self.atendente.eventos.next() => match quadro {
                    Some(Ok(DoBroker::Mensagem { texto, .. })) => {
                        let vezes = ao_atendente.entry(texto.clone()).or_default();
                        *vezes += 1;
                        if *vezes == 1 {
                            respondidas += 1;
                            let resposta = format!("a{}", &texto[1..]);
                            let _ = self.atendente.envio.mensagem(self.conversa, resposta).await;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                quadro = self.cliente.eventos.next() => match quadro {
                    Some(Ok(DoBroker::Mensagem { texto, .. })) => {
                        *ao_cliente.entry(texto).or_default() += 1;
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                Some(lado) = mudou(&mut ligacoes) => {
                    if *ligacoes[lado].borrow_and_update() == Ligacao::Retomada {
                        contas.retomadas.push(Instant::now());
                        self.retomadas.fetch_add(1, Ordering::SeqCst);
                    }
                }
                _ = tokio::time::sleep_until(prazo) => break,
            }
        }
        contas.escritas = escritas + respondidas;
        contas.perdidas = (escritas - ao_atendente.len() as u64)
            + respondidas.saturating_sub(ao_cliente.len() as u64);
        contas.duplicadas = ao_atendente
            .values()
            .chain(ao_cliente.values())
            .map(|vezes| u64::from(vezes - 1))
            .sum();
        contas
    }
}

/// Which of the two links changed state first (`None` once both handles are gone).
async fn mudou(ligacoes: &mut [watch::Receiver<Ligacao>; 2]) -> Option<usize> {
    let [cliente, atendente] = ligacoes;
    tokio::select! {
        Ok(()) = cliente.changed() => Some(0),
        Ok(()) = atendente.changed() => Some(1),
        else => None,
    }
}

/// Waits for the `Conectado` that starts a session's chat; returns the conversation.
async fn conectado(conexao: &mut Conexao) -> Result<u64, String> {
    let limite = Duration::from_secs(60);
    loop {
        match tokio::time::timeout(limite, conexao.eventos.next()).await {
            Ok(Some(Ok(DoBroker::Conectado { conversa, .. }))) => return Ok(conversa),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(erro))) => return Err(erro.to_string()),
            Ok(None) => return Err("o broker fechou a conexão".into()),
            Err(_) => return Err("a conversa não começou a tempo".into()),
        }
    }
}
