//! `broker painel`: a supervisor's live view of a running broker, over the protocol (so from
//! another machine, and over TLS, as the apps connect). Full screen at a terminal, redrawn with
//! every panel the broker sends (once a second; [`crate::vista_painel`] draws it); with
//! `--json`, or when the output is not a terminal, one panel per line of JSON, its fields as
//! PROTOCOL.md names them. A dropped connection is tried again every two seconds, in the
//! background (the keys keep working), the last figures staying on screen marked as old; in
//! `--json` it ends the command with an error, so a script notices.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use proto::{Apresentacao, Conexao, DoBroker, ErroConexao, MotivoFim};
use ratatui::DefaultTerminal;
use tokio::task::JoinHandle;

use crate::terminal;
use crate::vista_painel::{Quadro, desenhar};

/// How often a lost connection is tried again.
const RELIGAR: Duration = Duration::from_secs(2);

/// What `broker painel` was asked.
#[derive(Debug, Clone)]
pub struct OpcoesPainel {
    /// The broker's address (`host:porta`).
    pub servidor: String,
    /// The supervisor's credential.
    pub token: String,
    /// The name the broker logs this supervisor under.
    pub nome: String,
    /// One panel per line of JSON instead of the full screen.
    pub json: bool,
    /// Print one panel and stop (JSON).
    pub uma_vez: bool,
    /// Connect over TLS.
    pub tls: bool,
    /// The certificate authority to check the broker's certificate against (implies TLS).
    pub ca: Option<PathBuf>,
}

/// Runs the panel until the person quits (or, in JSON, until the connection ends).
pub async fn executar(opcoes: OpcoesPainel) -> ExitCode {
    let conexao = match conectar(&opcoes).await {
        Ok(conexao) => conexao,
        Err(erro) => {
            eprintln!(
                "Não foi possível abrir o painel em {}: {erro}",
                opcoes.servidor
            );
            return ExitCode::FAILURE;
        }
    };
    if opcoes.json || opcoes.uma_vez || !terminal::interativo() {
        return em_json(&opcoes, conexao).await;
    }
    let mut tela = match ratatui::try_init() {
        Ok(tela) => tela,
        Err(erro) => {
            eprintln!("Não foi possível preparar o terminal: {erro}");
            return ExitCode::FAILURE;
        }
    };
    let codigo = laco(&mut tela, &opcoes, conexao).await;
    ratatui::restore();
    codigo
}

/// Connects as a supervisor.
async fn conectar(opcoes: &OpcoesPainel) -> Result<Conexao, ErroConexao> {
    let apresentacao = Apresentacao::supervisor(opcoes.nome.clone(), opcoes.token.clone());
    if opcoes.tls || opcoes.ca.is_some() {
        Conexao::conectar_tls(&opcoes.servidor, opcoes.ca.as_deref(), apresentacao).await
    } else {
        Conexao::conectar_em(&opcoes.servidor, apresentacao).await
    }
}

/// Prints each panel as a line of JSON until the connection ends.
async fn em_json(opcoes: &OpcoesPainel, mut conexao: Conexao) -> ExitCode {
    while let Some(evento) = conexao.eventos.next().await {
        match evento {
            Ok(DoBroker::Painel(painel)) => {
                match serde_json::to_string(&*painel) {
                    Ok(linha) => println!("{linha}"),
                    Err(erro) => eprintln!("Erro: {erro}"),
                }
                if opcoes.uma_vez {
                    return ExitCode::SUCCESS;
                }
            }
            Ok(DoBroker::Fim {
                motivo: MotivoFim::BrokerEncerrando,
                ..
            }) => {
                eprintln!("O broker foi encerrado.");
                return ExitCode::SUCCESS;
            }
            Ok(DoBroker::Erro { texto, .. }) => eprintln!("Erro: {texto}"),
            Ok(_) => {}
            Err(erro) => {
                eprintln!("Conexão com o broker perdida: {erro}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("O broker fechou a conexão.");
    ExitCode::FAILURE
}

/// Draws every panel until the person quits; reconnects when the broker goes away.
async fn laco(tela: &mut DefaultTerminal, opcoes: &OpcoesPainel, conexao: Conexao) -> ExitCode {
    let mut quadro = Quadro {
        servidor: opcoes.servidor.clone(),
        ..Quadro::default()
    };
    let mut conexao = Some(conexao);
    // A new connection being tried in the background, so the keys still work meanwhile.
    let mut tentativa: Option<JoinHandle<Result<Conexao, ErroConexao>>> = None;
    let mut teclado = EventStream::new();
    let mut religar = tokio::time::interval(RELIGAR);
    loop {
        if tela.draw(|frame| desenhar(frame, &quadro)).is_err() {
            return ExitCode::FAILURE;
        }
        tokio::select! {
            tecla = teclado.next() => match tecla {
                Some(Ok(Event::Key(tecla))) if sair(tecla) => return ExitCode::SUCCESS,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return ExitCode::FAILURE,
            },
            evento = proximo(&mut conexao) => match evento {
                Some(Ok(DoBroker::Painel(painel))) => {
                    quadro.painel = Some(*painel);
                    quadro.hora = chrono::Local::now().format("%H:%M:%S").to_string();
                    quadro.reconectando = false;
                }
                Some(Ok(DoBroker::Fim { .. })) | Some(Err(_)) | None => {
                    conexao = None;
                    quadro.reconectando = true;
                }
                Some(Ok(_)) => {}
            },
            _ = religar.tick(), if conexao.is_none() && tentativa.is_none() => {
                let opcoes = opcoes.clone();
                tentativa = Some(tokio::spawn(async move { conectar(&opcoes).await }));
            }
            feita = async { tentativa.as_mut().expect("guarded by the condition").await },
                if tentativa.is_some() => {
                tentativa = None;
                conexao = feita.ok().and_then(Result::ok);
            }
        }
    }
}

/// The next frame of the connection, if there is one; never, while there is none.
async fn proximo(conexao: &mut Option<Conexao>) -> Option<std::io::Result<DoBroker>> {
    match conexao {
        Some(conexao) => conexao.eventos.next().await,
        None => std::future::pending().await,
    }
}

/// Whether a key quits: q, Esc or Ctrl-C.
fn sair(tecla: KeyEvent) -> bool {
    tecla.kind == KeyEventKind::Press
        && match tecla.code {
            KeyCode::Char('q') | KeyCode::Esc => true,
            KeyCode::Char('c') => tecla.modifiers.contains(KeyModifiers::CONTROL),
            _ => false,
        }
}
