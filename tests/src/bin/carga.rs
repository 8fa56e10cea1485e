//! `carga`: the load tool. Runs a scenario against an embedded broker (or one already running)
//! and the floor in the same run, prints one summary line, and can write the figures as JSON.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use broker::{Broker, Config};
use clap::{ArgAction, Parser, Subcommand};
use tests::carga::{churn, relay};

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

    /// Broker já em execução (host:porta). Sem ele, a carga sobe um broker embutido.
    #[arg(long, value_name = "ENDEREÇO", global = true)]
    servidor: Option<SocketAddr>,

    /// Token de atendente do broker externo (o embutido usa o seu).
    #[arg(long, value_name = "TOKEN", env = "FILA_TOKEN", global = true)]
    token: Option<String>,

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
        /// Clientes atendidos ao todo.
        #[arg(long, default_value_t = 20_000)]
        clientes: usize,
        /// Mensagens de cada cliente (cada uma respondida).
        #[arg(long, default_value_t = 10)]
        mensagens: usize,
        /// Clientes chegando ao mesmo tempo.
        #[arg(long, default_value_t = 100)]
        simultaneos: usize,
    },
}

/// The token the embedded broker accepts.
const TOKEN_EMBUTIDO: &str = "carga";

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
    runtime.block_on(async {
        let (endereco, token, embutido) = match argumentos.servidor {
            Some(endereco) => (endereco, argumentos.token.clone().unwrap_or_default(), None),
            None => {
                let config = Config {
                    escutar: "127.0.0.1:0".parse().expect("valid address"),
                    tokens_atendente: vec![TOKEN_EMBUTIDO.into()],
                    // A load generator sends as fast as it can: no rate limit in its way.
                    mensagens_por_segundo: u32::MAX,
                    rajada_de_mensagens: u32::MAX,
                    ..Config::default()
                };
                let broker = match Broker::iniciar(config).await {
                    Ok(broker) => broker,
                    Err(erro) => {
                        eprintln!("Não foi possível subir o broker embutido: {erro}");
                        return ExitCode::FAILURE;
                    }
                };
                (broker.endereco(), TOKEN_EMBUTIDO.to_owned(), Some(broker))
            }
        };
        let resultado = match argumentos.cenario {
            Cenario::Relay { pares, duracao } => relay::executar(endereco, &token, pares, duracao)
                .await
                .map(|r| (r.resumo(), serde_json::to_value(r))),
            Cenario::Churn {
                atendentes,
                clientes,
                mensagens,
                simultaneos,
            } => {
                let forma = churn::Forma {
                    atendentes,
                    clientes,
                    mensagens,
                    simultaneos: simultaneos.max(1),
                };
                churn::executar(endereco, &token, forma)
                    .await
                    .map(|r| (r.resumo(), serde_json::to_value(r)))
            }
        };
        if let Some(broker) = embutido {
            broker.encerrar().await;
        }
        match resultado {
            Ok((resumo, json)) => {
                println!("{resumo}");
                if let (Some(caminho), Ok(json)) = (&argumentos.json, json)
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
