//! The full-screen runtime: terminal set-up and restore, and the loop that feeds keys and broker
//! frames to the [`Modelo`], draws it with [`crate::visao`], and carries out its [`Acao`]s.
//!
//! ratatui's initialisation installs a panic hook that restores the terminal, and every way out
//! of the loop restores it too, so the shell is never left in raw mode.

use std::collections::VecDeque;
use std::process::ExitCode;

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event, EventStream};
use futures::StreamExt;
use proto::{Conexao, Envio, Eventos};
use ratatui::DefaultTerminal;
use tokio::sync::watch;

use crate::modelo::{Acao, Modelo, Msg};
use crate::sessao::{self, Opcoes};
use crate::visao;

/// Runs an accepted session full-screen until the person leaves.
pub async fn executar(opcoes: &Opcoes, conexao: Conexao) -> ExitCode {
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(erro) => {
            eprintln!("Não foi possível preparar o terminal: {erro}");
            return ExitCode::FAILURE;
        }
    };
    let _ = crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    let (codigo, despedida) = laco(&mut terminal, opcoes, conexao).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
    ratatui::restore();
    // The full screen is gone with the alternate screen; leave its last word in the shell.
    if let Some(despedida) = despedida {
        println!("{despedida}");
    }
    codigo
}

/// The local time as shown beside each line.
fn hora() -> String {
    chrono::Local::now().format("%H:%M").to_string()
}

/// The two halves of the current connection, if any.
struct Ligacao {
    /// Where frames go.
    envio: Envio,
    /// Where frames come from.
    eventos: Eventos,
    /// Whether the client handle is resuming the session after a drop.
    estado: watch::Receiver<proto::Ligacao>,
}

impl Ligacao {
    fn new(conexao: Conexao) -> Ligacao {
        Ligacao {
            envio: conexao.envio,
            eventos: conexao.eventos,
            estado: conexao.ligacao,
        }
    }
}

/// Runs until the person leaves; returns the exit code and the last notice shown.
async fn laco(
    terminal: &mut DefaultTerminal,
    opcoes: &Opcoes,
    conexao: Conexao,
) -> (ExitCode, Option<String>) {
    let mut modelo = Modelo::new(
        opcoes.nome.clone(),
        opcoes.papel.clone(),
        conexao.bemvindo(),
        &hora(),
    );
    let mut ligacao = Some(Ligacao::new(conexao));
    let mut teclado = EventStream::new();
    let mut pendentes: VecDeque<Msg> = VecDeque::new();
    loop {
        recolher_teclas(&mut pendentes);
        // Keys already typed are all handled before the screen is drawn again: a long text
        // typed at once costs one redraw, not one per character.
        if pendentes.is_empty()
            && terminal
                .draw(|quadro| visao::desenhar(quadro, &modelo))
                .is_err()
        {
            return (ExitCode::FAILURE, None);
        }
        let msg = match pendentes.pop_front() {
            Some(msg) => msg,
            None => tokio::select! {
                evento = teclado.next() => match evento {
                    Some(Ok(evento)) => match msg_do_teclado(evento) {
                        Some(msg) => msg,
                        // A resize (or anything else) only needs the redraw at the top.
                        None => continue,
                    },
                    Some(Err(_)) | None => return (ExitCode::FAILURE, None),
                },
                msg = da_ligacao(&mut ligacao) => {
                    if matches!(msg, Msg::ConexaoEncerrada) {
                        ligacao = None;
                    }
                    msg
                }
            },
        };
        for acao in modelo.atualizar(msg, &hora()) {
            match acao {
                Acao::Enviar(quadro) => {
                    let Some(atual) = &mut ligacao else { continue };
                    if atual.envio.enviar(quadro).await.is_err() {
                        ligacao = None;
                        pendentes.push_back(Msg::ConexaoEncerrada);
                    }
                }
                Acao::Reconectar => match sessao::abrir(opcoes).await {
                    Ok(nova) => {
                        pendentes.push_back(Msg::Broker(nova.bemvindo()));
                        ligacao = Some(Ligacao::new(nova));
                    }
                    Err(erro) => pendentes.push_back(Msg::ReconexaoFalhou(sessao::explicar(&erro))),
                },
                Acao::Sair => return (ExitCode::SUCCESS, modelo.ultimo_aviso()),
            }
        }
    }
}

/// What a terminal event means to the app (`None`: nothing but a redraw).
fn msg_do_teclado(evento: Event) -> Option<Msg> {
    match evento {
        Event::Key(tecla) => Some(Msg::Tecla(tecla)),
        Event::Paste(texto) => Some(Msg::Colar(texto)),
        _ => None,
    }
}

/// Takes every key already typed, without waiting.
fn recolher_teclas(pendentes: &mut VecDeque<Msg>) {
    while matches!(crossterm::event::poll(std::time::Duration::ZERO), Ok(true)) {
        match crossterm::event::read() {
            Ok(evento) => pendentes.extend(msg_do_teclado(evento)),
            Err(_) => break,
        }
    }
}

/// What the current connection brings next: a frame, a change of its link (dropped,
/// resumed), or its end (`ConexaoEncerrada`); never, without a connection.
async fn da_ligacao(ligacao: &mut Option<Ligacao>) -> Msg {
    let Some(atual) = ligacao else {
        return std::future::pending().await;
    };
    tokio::select! {
        quadro = atual.eventos.next() => match quadro {
            Some(Ok(quadro)) => Msg::Broker(quadro),
            _ => Msg::ConexaoEncerrada,
        },
        Ok(()) = atual.estado.changed() => Msg::Religacao(*atual.estado.borrow_and_update()),
    }
}
