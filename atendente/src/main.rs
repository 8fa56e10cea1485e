//! `atendente`: a support agent waits for customers of its departments and chats with each in
//! turn.

use std::process::ExitCode;

use app_core::ArgumentosComuns;
use clap::Parser;
use proto::Papel;

/// Command-line options (help text in Portuguese, for agents).
#[derive(Debug, Parser)]
#[command(
    name = "atendente",
    about = "Atende os clientes da fila, um de cada vez.",
    disable_help_flag = true,
    help_template = cli::MODELO_AJUDA,
    override_usage = "atendente [OPÇÕES]",
    after_help = "Durante a conversa: /fim encerra o atendimento atual, /sair sai, \
                  /ajuda mostra os comandos."
)]
struct Argumentos {
    #[command(flatten)]
    comuns: ArgumentosComuns,

    /// Departamentos que você atende, separados por vírgula. Padrão: geral.
    #[arg(
        long,
        value_name = "NOMES",
        value_delimiter = ',',
        default_value = proto::DEPARTAMENTO_PADRAO,
        hide_default_value = true
    )]
    departamentos: Vec<String>,

    /// Token de atendente que o broker aceita (mostrado pelo broker na primeira execução).
    #[arg(long, value_name = "TOKEN", env = "FILA_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

fn main() -> ExitCode {
    let argumentos: Argumentos = cli::analisar();
    app_core::executar(
        argumentos.comuns,
        Papel::Atendente {
            departamentos: argumentos.departamentos,
        },
        argumentos.token,
    )
}
