//! `atendente`: a support agent waits for customers of its departments and chats with them,
//! one at a time or several at once (`--capacidade`), each chat in a tab of its own.

use std::process::ExitCode;

use app_core::ArgumentosComuns;
use clap::Parser;
use proto::Papel;

/// Command-line options (help text in Portuguese, for agents).
#[derive(Debug, Parser)]
#[command(
    name = "atendente",
    about = "Atende os clientes da fila, um de cada vez ou vários ao mesmo tempo.",
    disable_help_flag = true,
    help_template = cli::MODELO_AJUDA,
    override_usage = "atendente [OPÇÕES]",
    after_help = "Durante a conversa: /fim encerra o atendimento em vista (/fim N, o #N), \
                  /sair sai, /ajuda mostra os comandos. Com várias conversas, Alt-1…Alt-9 ou \
                  Ctrl-←/→ trocam a conversa em vista."
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

    /// Quantas conversas você atende ao mesmo tempo, de 1 a 10 (o broker pode limitar a
    /// menos). Padrão: 1.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u8).range(1..=i64::from(proto::CAPACIDADE_MAXIMA)),
        hide_default_value = true
    )]
    capacidade: u8,

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
            capacidade: argumentos.capacidade,
        },
        argumentos.token,
    )
}
