//! The core that `cliente` and `atendente` share, so the two apps differ only in their role.
//!
//! It parses what is typed ([`comando`]) and shows broker events as sentences or JSON
//! ([`exibicao`]). A person at a terminal gets a full-screen interface split into model
//! ([`modelo`], with the input line in [`editor`]), view ([`visao`]) and runtime ([`tela`]);
//! pipes and `--json` get the plain line mode of [`terminal`] and [`sessao`]. A separate crate
//! because both binaries need all of it, and the broker's binary runs the supervisor's panel
//! from here too ([`painel`], drawn by [`vista_painel`]), while the broker's library uses none
//! of it.

pub mod comando;
pub mod editor;
pub mod exibicao;
pub mod modelo;
pub mod painel;
pub mod sessao;
pub mod tela;
pub mod terminal;
pub mod visao;
pub mod vista_painel;

use std::process::ExitCode;

use clap::Args;
use proto::Papel;

pub use sessao::Opcoes;

/// The command-line options both apps take.
#[derive(Debug, Args)]
pub struct ArgumentosComuns {
    /// Endereço do broker (host:porta); num cluster, os de todos os membros, separados por
    /// vírgula (a:7878,b:7878): o aplicativo usa o que estiver ativo. Padrão: 127.0.0.1:7878.
    #[arg(long, value_name = "ENDEREÇOS", env = "FILA_SERVIDOR", default_value = proto::ENDERECO_PADRAO, hide_default_value = true, value_parser = lista_de_servidores)]
    pub servidor: String,

    /// Seu nome, como o outro lado o verá. Se faltar, ele é perguntado.
    #[arg(long, value_name = "NOME")]
    pub nome: Option<String>,

    /// Escreve cada evento como um objeto JSON por linha (para scripts).
    #[arg(long)]
    pub json: bool,

    /// Conecta com TLS (o broker precisa ter sido iniciado com --tls-cert e --tls-chave).
    #[arg(long)]
    pub tls: bool,

    /// Certificado (PEM) da autoridade que assinou o do broker; implica --tls. Sem ele, valem
    /// as autoridades públicas.
    #[arg(long, value_name = "ARQUIVO")]
    pub ca: Option<std::path::PathBuf>,

    /// Mostra esta ajuda.
    #[arg(short = 'h', long = "help", action = clap::ArgAction::Help, display_order = 100)]
    pub ajuda: Option<bool>,
}

/// A customer who named no department: the broker's first, or, for a person, the one picked
/// from the broker's list; [`proto::DEPARTAMENTO_PADRAO`] when the broker takes any name (or
/// cannot tell, and the session's connection then says why). `None` if the person gave up.
async fn escolher_departamento(opcoes: &Opcoes, pessoa: bool) -> Option<String> {
    let nomes = sessao::consultar_departamentos(opcoes)
        .await
        .unwrap_or_default();
    match nomes.first() {
        None => Some(proto::DEPARTAMENTO_PADRAO.to_owned()),
        Some(_) if pessoa => terminal::escolher_departamento(&nomes),
        Some(primeiro) => Some(primeiro.clone()),
    }
}

/// A `--servidor` list, checked (kept as written: the handle resolves each name when it
/// connects).
pub fn lista_de_servidores(texto: &str) -> Result<String, String> {
    proto::enderecos::separar_servidores(texto).map(|_| texto.to_owned())
}

/// Runs an app: asks for the name if it is missing, then runs the session on a fresh runtime.
/// `token` is the agent credential (agents only).
pub fn executar(comuns: ArgumentosComuns, papel: Papel, token: Option<String>) -> ExitCode {
    let interativo = terminal::interativo();
    let nome = match comuns.nome.as_deref().map(proto::validacao::validar_nome) {
        Some(Ok(nome)) => nome,
        Some(Err(erro)) => {
            eprintln!("Nome inválido: {erro}.");
            return ExitCode::FAILURE;
        }
        None => match terminal::perguntar_nome(interativo, comuns.json) {
            Some(nome) => nome,
            None => return ExitCode::FAILURE,
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(erro) => {
            eprintln!("Não foi possível iniciar: {erro}");
            return ExitCode::FAILURE;
        }
    };
    let mut opcoes = Opcoes {
        servidor: comuns.servidor,
        nome,
        papel,
        json: comuns.json,
        token,
        tls: comuns.tls || comuns.ca.is_some(),
        ca: comuns.ca,
    };
    runtime.block_on(async {
        if matches!(&opcoes.papel, Papel::Cliente { departamento } if departamento.is_empty()) {
            let pessoa = interativo && !opcoes.json;
            let Some(departamento) = escolher_departamento(&opcoes, pessoa).await else {
                return ExitCode::FAILURE;
            };
            opcoes.papel = Papel::Cliente { departamento };
        }
        let conexao = match sessao::conectar(&opcoes).await {
            Ok(conexao) => conexao,
            Err(codigo) => return codigo,
        };
        if interativo && !opcoes.json {
            tela::executar(&opcoes, conexao).await
        } else {
            let mut terminal = terminal::Terminal::abrir(opcoes.json);
            sessao::conduzir(conexao, &opcoes, &mut terminal).await
        }
    })
}
