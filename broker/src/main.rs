//! `broker`: runs the help-desk queue broker from the command line until Ctrl-C or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use broker::{Broker, Config};
use clap::{ArgAction, Parser};
use tracing_subscriber::EnvFilter;

/// Command-line options (all help text in Portuguese, for the people who run it).
#[derive(Debug, Parser)]
#[command(
    name = "broker",
    version,
    about = "Broker da fila de atendimento: clientes esperam na fila, atendentes livres \
             esperam na deles, e o broker forma os pares e repassa a conversa.",
    disable_help_flag = true,
    disable_version_flag = true,
    help_template = cli::MODELO_AJUDA,
    override_usage = "broker [OPÇÕES]",
    after_help = "Registros: defina RUST_LOG (por exemplo RUST_LOG=debug) para mais detalhes."
)]
struct Argumentos {
    /// Endereço e porta em que o broker aceita conexões. Padrão: 127.0.0.1:7878.
    #[arg(long, value_name = "ENDEREÇO", default_value = proto::ENDERECO_PADRAO, hide_default_value = true)]
    escutar: SocketAddr,

    /// Tamanho máximo de um quadro, em bytes (de 20480 a 16777216). Padrão: 65536.
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "65536",
        value_parser = clap::value_parser!(u32).range(20_480..=16_777_216),
        hide_default_value = true
    )]
    quadro_maximo: u32,

    /// Prazo para uma nova conexão se apresentar (ex.: 10s, 500ms). Padrão: 10s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "10s", value_parser = humantime::parse_duration, hide_default_value = true)]
    prazo_apresentacao: Duration,

    /// De quanto em quanto tempo as posições na fila são enviadas. Padrão: 100ms.
    #[arg(long, value_name = "DURAÇÃO", default_value = "100ms", value_parser = humantime::parse_duration, hide_default_value = true)]
    intervalo_fila: Duration,

    /// Quadros que podem esperar para ser escritos a um participante antes de ele ser
    /// desconectado por lentidão. Padrão: 1024.
    #[arg(
        long,
        value_name = "QUADROS",
        default_value_t = 1024,
        hide_default_value = true
    )]
    capacidade_saida: usize,

    /// Prazo para as conexões se despedirem quando o broker é encerrado. Padrão: 5s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "5s", value_parser = humantime::parse_duration, hide_default_value = true)]
    prazo_encerramento: Duration,

    /// Mostra esta ajuda.
    #[arg(short = 'h', long = "help", action = ArgAction::Help)]
    ajuda: Option<bool>,

    /// Mostra a versão.
    #[arg(short = 'V', long = "version", action = ArgAction::Version)]
    versao: Option<bool>,
}

impl Argumentos {
    fn config(&self) -> Config {
        Config {
            escutar: self.escutar,
            tamanho_maximo_quadro: self.quadro_maximo as usize,
            prazo_apresentacao: self.prazo_apresentacao,
            intervalo_fila: self.intervalo_fila,
            capacidade_saida: self.capacidade_saida.max(1),
            prazo_encerramento: self.prazo_encerramento,
            ..Config::default()
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let argumentos: Argumentos = cli::analisar();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let broker = match Broker::iniciar(argumentos.config()).await {
        Ok(broker) => broker,
        Err(erro) => {
            eprintln!("Não foi possível ouvir em {}: {erro}", argumentos.escutar);
            return ExitCode::FAILURE;
        }
    };
    println!("Broker ouvindo em {}. Ctrl-C encerra.", broker.endereco());
    if let Err(erro) = sinal_de_encerramento().await {
        eprintln!("Não foi possível esperar pelo sinal de encerramento: {erro}");
    }
    println!("Encerrando: avisando todos os participantes...");
    broker.encerrar().await;
    println!("Broker encerrado.");
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn sinal_de_encerramento() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut termino =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            resultado = tokio::signal::ctrl_c() => resultado,
            _ = termino.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
