//! The full-screen runtime: terminal set-up and restore, and the loop that feeds keys and broker
//! frames to the [`Modelo`], draws it with [`crate::visao`], and carries out its [`Acao`]s.
//!
//! ratatui's initialisation installs a panic hook that restores the terminal, and every way out
//! of the loop restores it too, so the shell is never left in raw mode.

use std::collections::VecDeque;
use std::process::ExitCode;

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event, EventStream};
use futures::StreamExt;
use proto::{Conexao, DoBroker, Envio, Eventos};
use ratatui::DefaultTerminal;

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
    let mut ligacao = Some(Ligacao {
        envio: conexao.envio,
        eventos: conexao.eventos,
    });
    let mut teclado = EventStream::new();
    let mut pendentes: VecDeque<Msg> = VecDeque::new();
    loop {
        if terminal
            .draw(|quadro| visao::desenhar(quadro, &modelo))
            .is_err()
        {
            return (ExitCode::FAILURE, None);
        }
        let msg = match pendentes.pop_front() {
            Some(msg) => msg,
            None => tokio::select! {
                evento = teclado.next() => match evento {
                    Some(Ok(Event::Key(tecla))) => Msg::Tecla(tecla),
                    Some(Ok(Event::Paste(texto))) => Msg::Colar(texto),
                    // A resize (or anything else) only needs the redraw at the top of the loop.
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return (ExitCode::FAILURE, None),
                },
                quadro = proximo_quadro(&mut ligacao) => match quadro {
                    Some(quadro) => Msg::Broker(quadro),
                    None => {
                        ligacao = None;
                        Msg::ConexaoEncerrada
                    }
                },
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
                        ligacao = Some(Ligacao {
                            envio: nova.envio,
                            eventos: nova.eventos,
                        });
                    }
                    Err(erro) => pendentes.push_back(Msg::ReconexaoFalhou(sessao::explicar(&erro))),
                },
                Acao::Sair => return (ExitCode::SUCCESS, modelo.ultimo_aviso()),
            }
        }
    }
}

/// The next frame of the current connection; `None` when it ends; never, without one.
async fn proximo_quadro(ligacao: &mut Option<Ligacao>) -> Option<DoBroker> {
    match ligacao {
        Some(atual) => match atual.eventos.next().await {
            Some(Ok(quadro)) => Some(quadro),
            _ => None,
        },
        None => std::future::pending().await,
    }
}
