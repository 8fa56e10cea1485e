//! `cliente`: a customer joins its department's line, sees its place, and chats with the agent
//! the broker pairs it with.

use std::process::ExitCode;

use app_core::ArgumentosComuns;
use clap::Parser;
use proto::Papel;

/// Command-line options (help text in Portuguese, for customers).
#[derive(Debug, Parser)]
#[command(
    name = "cliente",
    about = "Entra na fila de atendimento e conversa com um atendente.",
    disable_help_flag = true,
    help_template = cli::MODELO_AJUDA,
    override_usage = "cliente [OPÇÕES]",
    after_help = "Durante a conversa: /sair sai, /ajuda mostra os comandos."
)]
struct Argumentos {
    #[command(flatten)]
    comuns: ArgumentosComuns,

    /// Departamento em que você quer ser atendido. Sem ele: se o broker tem uma lista de
    /// departamentos, você escolhe num menu (em --json e sem terminal, vale o primeiro);
    /// senão, geral.
    #[arg(long, value_name = "NOME")]
    departamento: Option<String>,
}

fn main() -> ExitCode {
    let argumentos: Argumentos = cli::analisar();
    app_core::executar(
        argumentos.comuns,
        // Empty: chosen from the broker's list once connected.
        Papel::Cliente {
            departamento: argumentos.departamento.unwrap_or_default(),
        },
        None,
    )
}
