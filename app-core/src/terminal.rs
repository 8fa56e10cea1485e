//! Where lines come from and where output goes, for a person at a terminal or for a pipe.
//!
//! At a terminal, lines are edited with rustyline on a thread of their own, and everything
//! printed goes through rustyline's external printer, which redraws the prompt and the half-typed
//! line below it: incoming text never tears what is being typed. On a pipe (or with `--json`),
//! lines are read plainly from stdin and output is written as is.

use std::io::{self, BufRead, IsTerminal, Write};
use std::thread;

use nix::sys::termios::{SetArg, Termios, tcgetattr, tcsetattr};
use proto::validacao::validar_nome;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::sync::mpsc;

/// The prompt shown while chatting.
const PROMPT: &str = "> ";

/// One thing read from the person (or the pipe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linha {
    /// A typed line, without its line break.
    Texto(String),
    /// End of input (Ctrl-D, or the pipe closed).
    Fim,
    /// Ctrl-C at the prompt.
    Interrompido,
}

/// Whether a person is at the keyboard: stdin and stdout both a terminal.
pub fn interativo() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Asks for a name until a valid one is given; `None` if input ends first. Runs before the
/// async runtime starts, because it blocks.
pub fn perguntar_nome(interativo: bool, json: bool) -> Option<String> {
    if interativo && !json {
        let mut editor = DefaultEditor::new().ok()?;
        loop {
            match validar_nome(&editor.readline("Seu nome: ").ok()?) {
                Ok(nome) => return Some(nome),
                Err(erro) => println!("Nome inválido: {erro}."),
            }
        }
    }
    let mut linha = String::new();
    loop {
        eprint!("Seu nome: ");
        let _ = io::stderr().flush();
        linha.clear();
        if io::stdin().lock().read_line(&mut linha).ok()? == 0 {
            return None;
        }
        match validar_nome(&linha) {
            Ok(nome) => return Some(nome),
            Err(erro) => eprintln!("Nome inválido: {erro}."),
        }
    }
}

/// The app's two ends: lines in, text out.
pub struct Terminal {
    /// Lines from the input thread.
    linhas: mpsc::Receiver<Linha>,
    /// Prints while a line may be half-typed; `None` on a pipe.
    impressora: Option<Box<dyn ExternalPrinter + Send>>,
    /// The terminal's settings before line editing began, restored on drop.
    original: Option<Termios>,
    /// Whether stdout carries JSON (notices then go to stderr).
    json: bool,
}

impl Terminal {
    /// Starts reading input: with line editing when `interativo` (and not `json`), plainly
    /// otherwise.
    pub fn abrir(interativo: bool, json: bool) -> Terminal {
        let (tx, linhas) = mpsc::channel(64);
        if interativo && !json {
            let original = tcgetattr(io::stdin()).ok();
            if let Ok(mut editor) = DefaultEditor::new()
                && let Ok(impressora) = editor.create_external_printer()
            {
                thread::spawn(move || editar_linhas(editor, tx));
                return Terminal {
                    linhas,
                    impressora: Some(Box::new(impressora)),
                    original,
                    json,
                };
            }
        }
        thread::spawn(move || ler_linhas(tx));
        Terminal {
            linhas,
            impressora: None,
            original: None,
            json,
        }
    }

    /// The next line; [`Linha::Fim`] once input has ended.
    pub async fn proxima(&mut self) -> Linha {
        self.linhas.recv().await.unwrap_or(Linha::Fim)
    }

    /// Prints an event (a sentence, or a JSON line) on stdout.
    pub fn mostrar(&mut self, texto: &str) {
        match &mut self.impressora {
            Some(impressora) => {
                if impressora.print(format!("{texto}\n")).is_err() {
                    println!("{texto}");
                }
            }
            None => {
                let mut saida = io::stdout().lock();
                let _ = writeln!(saida, "{texto}");
                let _ = saida.flush();
            }
        }
    }

    /// Prints a notice from the app itself (help, a command it does not know): on stdout for a
    /// person, on stderr when stdout carries JSON.
    pub fn avisar(&mut self, texto: &str) {
        if self.json {
            eprintln!("{texto}");
        } else {
            self.mostrar(texto);
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // The editing thread may still be inside `readline`, with the terminal in raw mode.
        if let Some(original) = &self.original {
            let _ = tcsetattr(io::stdin(), SetArg::TCSANOW, original);
        }
    }
}

/// The input thread at a terminal.
fn editar_linhas(mut editor: DefaultEditor, tx: mpsc::Sender<Linha>) {
    loop {
        let linha = match editor.readline(PROMPT) {
            Ok(texto) => {
                let _ = editor.add_history_entry(texto.as_str());
                Linha::Texto(texto)
            }
            Err(ReadlineError::Interrupted) => Linha::Interrompido,
            Err(_) => Linha::Fim,
        };
        let ultima = linha == Linha::Fim;
        if tx.blocking_send(linha).is_err() || ultima {
            return;
        }
    }
}

/// The input thread on a pipe.
fn ler_linhas(tx: mpsc::Sender<Linha>) {
    for linha in io::stdin().lock().lines() {
        let Ok(texto) = linha else { break };
        if tx.blocking_send(Linha::Texto(texto)).is_err() {
            return;
        }
    }
    let _ = tx.blocking_send(Linha::Fim);
}
