//! `carga`: the load tool. Runs a scenario against a broker it starts (embedded in its own
//! process, or in a child process where the broker's memory is measured) or one already
//! running, prints one summary line, and can write the figures as JSON.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use broker::arquivos::{self, RESERVA};
use broker::cluster::Membro;
use broker::config::Cluster;
use broker::{Broker, Config};
use clap::{ArgAction, Parser, Subcommand};
use serde::Serialize;
use tests::carga::processo::{self, BrokerFilho};
use tests::carga::{
    TOKEN_EMBUTIDO, churn, config_de_carga, drain, estimativa, failover, idle, relay,
};

/// Command-line options (help in Portuguese, like the other binaries).
#[derive(Debug, Parser)]
#[command(
    name = "carga",
    about = "Gera carga no broker e compara com o piso da máquina (um repasse TCP mínimo).",
    disable_help_flag = true,
    help_template = cli::MODELO_AJUDA,
    override_usage = "carga [OPÇÕES] <CENÁRIO>"
)]
struct Argumentos {
    #[command(subcommand)]
    cenario: Cenario,

    /// Broker já em execução (host:porta); num cluster, os membros separados por vírgula (a
    /// carga usa o que estiver ativo). Sem ele, a carga sobe o seu próprio.
    #[arg(long, value_name = "ENDEREÇOS", env = "FILA_SERVIDOR", global = true, value_parser = lista_de_servidores)]
    servidor: Option<Servidores>,

    /// Endereço web (--web) do broker externo, para churn --websocket.
    #[arg(long, value_name = "ENDEREÇO", global = true, requires = "servidor")]
    servidor_web: Option<SocketAddr>,

    /// Token de atendente do broker externo (o próprio da carga usa o seu).
    #[arg(long, value_name = "TOKEN", env = "FILA_TOKEN", global = true)]
    token: Option<String>,

    /// Banco do broker que a carga sobe (sqlite://ARQUIVO?mode=rwc ou postgres://...). Padrão:
    /// como o broker, um arquivo SQLite novo (numa pasta temporária, apagada no fim).
    #[arg(long, value_name = "URL", global = true)]
    banco: Option<String>,

    /// O broker da carga roda sem banco (como broker --sem-banco).
    #[arg(long, global = true, conflicts_with = "banco")]
    sem_banco: bool,

    /// O broker da carga serve as métricas do Prometheus neste endereço (como broker
    /// --metricas), para medir o que elas custam.
    #[arg(long, value_name = "ENDEREÇO", global = true)]
    metricas: Option<SocketAddr>,

    /// Escreve os números também como JSON neste arquivo.
    #[arg(long, value_name = "ARQUIVO", global = true)]
    json: Option<PathBuf>,

    /// Mostra esta ajuda.
    #[arg(short = 'h', long = "help", action = ArgAction::Help, global = true)]
    ajuda: Option<bool>,
}

#[derive(Debug, Subcommand)]
enum Cenario {
    /// Pares fixos trocando mensagens o mais rápido possível.
    Relay {
        /// Quantos pares.
        #[arg(long, default_value_t = 50)]
        pares: usize,
        /// Por quanto tempo (ex.: 10s).
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        duracao: Duration,
    },
    /// Clientes chegam, esperam, conversam e saem; um grupo fixo de atendentes.
    Churn {
        /// Atendentes no grupo.
        #[arg(long, default_value_t = 50)]
        atendentes: usize,
        /// Conversas de cada atendente ao mesmo tempo (de 1 a 10).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
        capacidade: u8,
        /// Clientes atendidos ao todo.
        #[arg(long, default_value_t = 20_000)]
        clientes: usize,
        /// Mensagens de cada cliente (cada uma respondida).
        #[arg(long, default_value_t = 10)]
        mensagens: usize,
        /// Clientes chegando ao mesmo tempo.
        #[arg(long, default_value_t = 100)]
        simultaneos: usize,
        /// Repete a rodada com os clientes por WebSocket (como a página web), no mesmo broker,
        /// para comparar com TCP; os atendentes ficam no TCP.
        #[arg(long)]
        websocket: bool,
    },
    /// Clientes esperando na fila, parados: memória do broker por cliente.
    Idle {
        /// Clientes na fila.
        #[arg(long, default_value_t = 100_000)]
        clientes: usize,
        /// Conexões sendo abertas ao mesmo tempo.
        #[arg(long, default_value_t = 200)]
        simultaneos: usize,
        /// Processo do broker externo (com --servidor), para ler a sua memória.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// Os clientes entram por WebSocket (como a página web), e não por TCP.
        #[arg(long)]
        websocket: bool,
    },
    /// Uma fila cheia esvaziada por atendentes: tempo e quadros de posição enviados.
    Drain {
        /// Clientes na fila quando os atendentes chegam.
        #[arg(long, default_value_t = 20_000)]
        clientes: usize,
        /// Atendentes.
        #[arg(long, default_value_t = 100)]
        atendentes: usize,
        /// Conexões sendo abertas ao mesmo tempo.
        #[arg(long, default_value_t = 200)]
        simultaneos: usize,
    },
    /// Clientes chegando ao acaso e atendimentos de duração aleatória: compara a espera
    /// estimada que cada cliente recebeu com a espera que teve.
    Estimativa {
        /// Atendentes (uma conversa de cada vez).
        #[arg(long, default_value_t = 5)]
        atendentes: usize,
        /// Clientes ao todo.
        #[arg(long, default_value_t = 240)]
        clientes: usize,
        /// Duração média de um atendimento (exponencial).
        #[arg(long, default_value = "4s", value_parser = humantime::parse_duration)]
        atendimento: Duration,
        /// Ocupação pretendida dos atendentes, de 0 a 1 (define o ritmo de chegada).
        #[arg(long, default_value_t = 0.95)]
        ocupacao: f64,
    },
    /// Um cluster de dois brokers num banco PostgreSQL: sessões conversando aos pares, o ativo
    /// morto (SIGKILL); mede o tempo até todas retomarem no outro e conta as linhas perdidas e
    /// as duplicadas. Sem --banco, usa um esquema novo no PostgreSQL local.
    Failover {
        /// Sessões ao todo (metade clientes, metade atendentes).
        #[arg(long, default_value_t = 1000)]
        sessoes: usize,
        /// Intervalo entre duas linhas de um cliente (cada uma respondida).
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        intervalo: Duration,
        /// Tempo de conversa antes da queda, e de novo depois que todos retomaram.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        conversa: Duration,
        /// Prazo da liderança do cluster (como broker --prazo-lideranca).
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        prazo_lideranca: Duration,
        /// Intervalo dos batimentos dos brokers (como broker --batimento; padrão: o do broker):
        /// com --congelar, os aplicativos percebem o ativo calado depois de dois deles.
        #[arg(long, value_parser = humantime::parse_duration)]
        batimento: Option<Duration>,
        /// Congela o ativo (SIGSTOP, como uma máquina que parou sem fechar as conexões) em vez
        /// de matá-lo; ele é descongelado no fim e precisa deixar de servir.
        #[arg(long)]
        congelar: bool,
    },
    /// (interno) Serve um broker para a própria carga, num processo à parte.
    #[command(name = processo::SUBCOMANDO, hide = true)]
    BrokerFilho {
        /// Endereço onde ouvir (padrão: uma porta livre).
        #[arg(long)]
        escutar: Option<std::net::SocketAddr>,
        /// Entra neste cluster (o banco precisa ser PostgreSQL).
        #[arg(long)]
        cluster: Option<String>,
        /// O prazo da liderança no cluster.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        prazo_lideranca: Duration,
        /// O intervalo dos batimentos (padrão: o do broker).
        #[arg(long, value_parser = humantime::parse_duration)]
        batimento: Option<Duration>,
    },
}

impl Cenario {
    /// Idle and drain hold many connections at once: the broker they start gets a process of
    /// its own, with its own open-file limit and a memory reading of its own.
    fn processo_proprio(&self) -> bool {
        matches!(
            self,
            Cenario::Idle { .. } | Cenario::Drain { .. } | Cenario::Failover { .. }
        )
    }

    /// Connections the load tool holds open at once, to check against the open-file limit.
    fn conexoes(&self) -> usize {
        match self {
            Cenario::Relay { pares, .. } => 2 * pares,
            Cenario::Churn {
                atendentes,
                capacidade,
                simultaneos,
                ..
            } => atendentes * usize::from(*capacidade) + simultaneos,
            Cenario::Idle { clientes, .. } => *clientes,
            Cenario::Drain {
                clientes,
                atendentes,
                ..
            } => clientes + atendentes,
            Cenario::Estimativa {
                atendentes,
                clientes,
                ..
            } => atendentes + clientes,
            Cenario::Failover { sessoes, .. } => *sessoes,
            Cenario::BrokerFilho { .. } => 0,
        }
    }
}

/// Where the load goes.
enum Alvo {
    /// A broker running in this process.
    Embutido(Broker),
    /// A broker in a child process of this one.
    Filho(BrokerFilho),
    /// A broker someone else started.
    Externo(SocketAddr),
}

impl Alvo {
    fn endereco(&self) -> SocketAddr {
        match self {
            Alvo::Embutido(broker) => broker.endereco(),
            Alvo::Filho(filho) => filho.endereco(),
            Alvo::Externo(endereco) => *endereco,
        }
    }

    /// Where its web listener is, when it has one (`externo`: what `--servidor-web` says).
    fn endereco_web(&self, externo: Option<SocketAddr>) -> Option<SocketAddr> {
        match self {
            Alvo::Embutido(broker) => broker.endereco_web(),
            Alvo::Filho(filho) => Some(filho.endereco_web()),
            Alvo::Externo(_) => externo,
        }
    }
}

fn main() -> ExitCode {
    let argumentos: Argumentos = cli::analisar();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(erro) => {
            eprintln!("Não foi possível iniciar: {erro}");
            return ExitCode::FAILURE;
        }
    };
    if let Cenario::BrokerFilho {
        escutar,
        cluster,
        prazo_lideranca,
        batimento,
    } = &argumentos.cenario
    {
        let cluster = cluster.clone().map(|nome| Cluster {
            nome,
            prazo: *prazo_lideranca,
        });
        let filho = servir_como_filho(argumentos.banco.clone(), *escutar, (cluster, *batimento));
        return runtime.block_on(filho);
    }
    let temporario = std::env::temp_dir().join(format!("carga-{}", std::process::id()));
    let banco = match (
        &argumentos.banco,
        argumentos.sem_banco || argumentos.servidor.is_some(),
    ) {
        (Some(banco), _) => Some(banco.clone()),
        (None, true) => None,
        (None, false) => {
            let _ = std::fs::remove_dir_all(&temporario);
            Some(broker::armazenamento::url_padrao(&temporario))
        }
    };
    // An embedded broker holds the other end of every connection in this same process.
    let por_conexao = if argumentos.servidor.is_none() && !argumentos.cenario.processo_proprio() {
        2
    } else {
        1
    };
    let conexoes = argumentos.cenario.conexoes() * por_conexao;
    if let Err(erro) = verificar_limite_de_arquivos(conexoes) {
        eprintln!("{erro}");
        return ExitCode::FAILURE;
    }
    runtime.block_on(async {
        let resultado = match &argumentos.cenario {
            Cenario::Failover { .. } => falhar_o_ativo(&argumentos).await,
            _ => carregar(&argumentos, banco.as_deref()).await,
        };
        let _ = std::fs::remove_dir_all(&temporario);
        match resultado {
            Ok((resumo, json)) => {
                println!("{resumo}");
                if let Some(caminho) = &argumentos.json
                    && let Err(erro) = std::fs::write(caminho, format!("{json:#}\n"))
                {
                    eprintln!("Não foi possível escrever {}: {erro}", caminho.display());
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            }
            Err(erro) => {
                eprintln!("A carga falhou: {erro}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Starts the broker to load (unless one is given), runs the scenario, and returns its summary
/// line and its figures as JSON.
async fn carregar(
    argumentos: &Argumentos,
    banco: Option<&str>,
) -> Result<(String, serde_json::Value), String> {
    let (alvo, token) = match &argumentos.servidor {
        Some(servidores) => (
            Alvo::Externo(escolher_ativo(&servidores.0).await?),
            argumentos.token.clone().unwrap_or_default(),
        ),
        None if argumentos.cenario.processo_proprio() => {
            let executavel = std::env::current_exe().map_err(|erro| erro.to_string())?;
            let filho = BrokerFilho::iniciar(&executavel, banco, None)
                .map_err(|e| format!("não foi possível subir o broker: {e}"))?;
            (Alvo::Filho(filho), TOKEN_EMBUTIDO.to_owned())
        }
        None => {
            let config = Config {
                metricas: argumentos.metricas,
                web: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                ..config_de_carga(banco.map(str::to_owned))
            };
            let broker = Broker::iniciar(config)
                .await
                .map_err(|e| format!("não foi possível subir o broker embutido: {e}"))?;
            (Alvo::Embutido(broker), TOKEN_EMBUTIDO.to_owned())
        }
    };
    let endereco = alvo.endereco();
    let resultado = match argumentos.cenario {
        Cenario::Relay { pares, duracao } => relay::executar(endereco, &token, pares, duracao)
            .await
            .map(|r| resumir(r.resumo(), &r)),
        Cenario::Churn {
            atendentes,
            capacidade,
            clientes,
            mensagens,
            simultaneos,
            websocket,
        } => {
            let web = match (websocket, alvo.endereco_web(argumentos.servidor_web)) {
                (false, _) => Ok(None),
                (true, Some(web)) => Ok(Some(web)),
                (true, None) => Err("churn --websocket com --servidor precisa de --servidor-web"),
            };
            let forma = churn::Forma {
                atendentes,
                capacidade,
                clientes,
                mensagens,
                simultaneos: simultaneos.max(1),
            };
            match web {
                Ok(web) => churn::executar(endereco, web, &token, forma)
                    .await
                    .map(|r| resumir(r.resumo(), &r)),
                Err(erro) => Err(erro.to_owned()),
            }
        }
        Cenario::Idle {
            clientes,
            simultaneos,
            pid,
            websocket,
        } => {
            let pid = match (&alvo, pid) {
                (Alvo::Filho(filho), _) => filho.pid(),
                (_, Some(pid)) => pid,
                _ => return Err("com --servidor, idle precisa de --pid do broker".into()),
            };
            let forma = idle::Forma {
                clientes,
                simultaneos,
                websocket,
            };
            let endereco = match (websocket, alvo.endereco_web(argumentos.servidor_web)) {
                (false, _) => endereco,
                (true, Some(web)) => web,
                (true, None) => {
                    return Err("idle --websocket com --servidor precisa de --servidor-web".into());
                }
            };
            idle::executar(endereco, pid, forma)
                .await
                .map(|r| resumir(r.resumo(), &r))
        }
        Cenario::Drain {
            clientes,
            atendentes,
            simultaneos,
        } => {
            let forma = drain::Forma {
                clientes,
                atendentes,
                simultaneos,
                tick: config_de_carga(None).intervalo_fila,
            };
            drain::executar(endereco, &token, forma)
                .await
                .map(|r| resumir(r.resumo(), &r))
        }
        Cenario::Estimativa {
            atendentes,
            clientes,
            atendimento,
            ocupacao,
        } => {
            let forma = estimativa::Forma {
                atendentes: atendentes.max(1),
                clientes,
                atendimento,
                ocupacao: ocupacao.clamp(0.05, 2.0),
            };
            estimativa::executar(endereco, &token, forma)
                .await
                .map(|r| resumir(r.resumo(), &r))
        }
        Cenario::BrokerFilho { .. } | Cenario::Failover { .. } => {
            Err("cenário fora deste caminho".into())
        }
    };
    match alvo {
        Alvo::Embutido(broker) => broker.parar().await,
        Alvo::Filho(filho) => drop(filho),
        Alvo::Externo(_) => {}
    }
    let (resumo, json) = resultado?;
    match banco {
        Some(url) if argumentos.servidor.is_none() => {
            let (conversas, linhas) = contar(url).await?;
            Ok((
                format!("{resumo} | gravadas: {conversas} conversas, {linhas} linhas"),
                json,
            ))
        }
        _ => Ok((format!("{resumo} | sem banco"), json)),
    }
}

/// The first of `servidores` (`host:porta`, a cluster's members) that accepts connections.
async fn escolher_ativo(servidores: &[String]) -> Result<SocketAddr, String> {
    for servidor in servidores {
        let Ok(enderecos) = tokio::net::lookup_host(servidor.as_str()).await else {
            continue;
        };
        for endereco in enderecos {
            if tokio::net::TcpStream::connect(endereco).await.is_ok() {
                return Ok(endereco);
            }
        }
    }
    Err(format!(
        "nenhum destes brokers aceita conexões: {}",
        servidores.join(", ")
    ))
}

/// The addresses of `--servidor`.
#[derive(Debug, Clone)]
struct Servidores(Vec<String>);

/// A `--servidor` list, split.
fn lista_de_servidores(texto: &str) -> Result<Servidores, String> {
    proto::enderecos::separar_servidores(texto).map(Servidores)
}

/// Runs `failover`: a cluster of two members of its own, on `--banco` (PostgreSQL) or on a
/// fresh schema of the local server, dropped at the end.
async fn falhar_o_ativo(argumentos: &Argumentos) -> Result<(String, serde_json::Value), String> {
    let Cenario::Failover {
        sessoes,
        intervalo,
        conversa,
        prazo_lideranca,
        batimento,
        congelar,
    } = argumentos.cenario
    else {
        return Err("cenário errado".into());
    };
    if argumentos.servidor.is_some() {
        return Err("failover sobe e derruba os próprios brokers: tire o --servidor".into());
    }
    let executavel = std::env::current_exe().map_err(|erro| erro.to_string())?;
    let esquema = "carga_failover";
    let banco = match &argumentos.banco {
        Some(banco) => banco.clone(),
        None => tests::bancos::banco_postgres(esquema).await,
    };
    let forma = failover::Forma {
        sessoes: sessoes.max(2),
        intervalo,
        conversa,
        prazo: prazo_lideranca,
        batimento,
        congelar,
    };
    let resultado = failover::executar(&executavel, &banco, forma).await;
    if argumentos.banco.is_none() {
        tests::bancos::largar_esquema(esquema).await;
    }
    resultado.map(|r| resumir(r.resumo(), &r))
}

/// What the broker's database holds once the run is over.
async fn contar(url: &str) -> Result<(i64, i64), String> {
    let banco = broker::armazenamento::Banco::abrir(url)
        .await
        .map_err(|e| format!("não foi possível abrir o banco para contar: {e}"))?;
    banco
        .contagem()
        .await
        .map_err(|e| format!("não foi possível contar o que foi gravado: {e}"))
}

fn resumir(resumo: String, figuras: &impl Serialize) -> (String, serde_json::Value) {
    (resumo, serde_json::to_value(figuras).unwrap_or_default())
}

/// Raises this process's open-file limit (a child broker inherits it) and checks that it holds
/// the scenario's connections.
fn verificar_limite_de_arquivos(conexoes: usize) -> Result<(), String> {
    let limite = arquivos::elevar_limite()
        .map_err(|e| format!("Não foi possível ler o limite de arquivos abertos: {e}"))?;
    if limite.conexoes() < conexoes as u64 {
        return Err(format!(
            "O limite de arquivos abertos desta máquina ({}, e o máximo permitido é {}) não \
             comporta {conexoes} conexões de uma vez (cada conexão é um arquivo, e são \
             reservados {RESERVA}). Reduza --clientes para até {}, ou aumente o limite \
             (ulimit -Hn, como root).",
            limite.atual,
            limite.maximo,
            limite.conexoes(),
        ));
    }
    Ok(())
}

/// The child side of [`BrokerFilho`]: serves a broker (or joins `cluster`), prints its
/// addresses, and shuts it down when standard input closes.
async fn servir_como_filho(
    banco: Option<String>,
    escutar: Option<std::net::SocketAddr>,
    (cluster, batimento): (Option<Cluster>, Option<Duration>),
) -> ExitCode {
    use tokio::io::AsyncReadExt;

    let _ = arquivos::elevar_limite();
    let mut config = Config {
        web: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        cluster,
        ..config_de_carga(banco)
    };
    if let Some(escutar) = escutar {
        config.escutar = escutar;
    }
    if let Some(batimento) = batimento {
        config.intervalo_batimento = batimento;
    }
    if let Err(erro) = config.validar() {
        eprintln!("Configuração inválida: {erro}");
        return ExitCode::FAILURE;
    }
    let servido = if config.cluster.is_some() {
        Membro::iniciar(config).await.map(Servido::Membro)
    } else {
        Broker::iniciar(config).await.map(Servido::Broker)
    };
    let servido = match servido {
        Ok(servido) => servido,
        Err(erro) => {
            eprintln!("Não foi possível subir o broker: {erro}");
            return ExitCode::FAILURE;
        }
    };
    // The line [`BrokerFilho`] reads: the protocol's address and the web listener's.
    let (endereco, web) = servido.enderecos();
    println!(
        "{endereco} {}",
        web.map_or_else(String::new, |web| web.to_string())
    );
    let mut descarte = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut descarte).await;
    servido.parar().await;
    ExitCode::SUCCESS
}

/// What a child serves: a broker on its own, or a cluster's member.
enum Servido {
    Broker(Broker),
    Membro(Membro),
}

impl Servido {
    /// The protocol's address and the web listener's.
    fn enderecos(&self) -> (SocketAddr, Option<SocketAddr>) {
        match self {
            Servido::Broker(broker) => (broker.endereco(), broker.endereco_web()),
            Servido::Membro(membro) => (membro.endereco(), membro.endereco_web()),
        }
    }

    /// Stops it (a member that is active hands over).
    async fn parar(self) {
        match self {
            Servido::Broker(broker) => broker.parar().await,
            Servido::Membro(membro) => membro.parar().await,
        }
    }
}
