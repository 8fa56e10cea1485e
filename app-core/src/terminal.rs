//! Where lines come from and where output goes, for a person at a terminal or for a pipe.
//!
//! At a terminal, lines are edited with rustyline on a thread of their own, and everything
//! printed goes through rustyline's external printer, which redraws the prompt and the half-typed
//! line below it: incoming text never tears what is being typed. The thread only starts editing
//! a line when the session asks for one, so once the session stops asking (it is leaving) the
//! terminal is back in its normal mode and the last messages are printed directly. On a pipe (or with `--json`),
//! lines are read plainly from stdin and output is written as is.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::termios::{SetArg, Termios, tcgetattr, tcsetattr};
use proto::validacao::validar_nome;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::sync::mpsc;

/// The prompt shown while chatting.
const PROMPT: &str = "> ";

/// How long the editing thread gets, when the app ends, to print what is still queued for it.
const ESCOAMENTO_DA_IMPRESSORA: Duration = Duration::from_millis(150);

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
    /// Asks the editing thread for one more line; `None` on a pipe, where lines flow freely.
    pedidos: Option<std_mpsc::Sender<()>>,
    /// Whether a line was asked for and has not arrived yet.
    pedido_pendente: bool,
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
                let (pedidos, pedidos_rx) = std_mpsc::channel();
                thread::spawn(move || editar_linhas(editor, pedidos_rx, tx));
                return Terminal {
                    linhas,
                    pedidos: Some(pedidos),
                    pedido_pendente: false,
                    impressora: Some(Box::new(impressora)),
                    original,
                    json,
                };
            }
        }
        thread::spawn(move || ler_linhas(tx));
        Terminal {
            linhas,
            pedidos: None,
            pedido_pendente: false,
            impressora: None,
            original: None,
            json,
        }
    }

    /// The next line; [`Linha::Fim`] once input has ended. Cancel-safe: a line asked for by a
    /// dropped call is delivered to the next one.
    pub async fn proxima(&mut self) -> Linha {
        if let Some(pedidos) = &self.pedidos
            && !self.pedido_pendente
        {
            if pedidos.send(()).is_err() {
                return Linha::Fim;
            }
            self.pedido_pendente = true;
        }
        let linha = self.linhas.recv().await.unwrap_or(Linha::Fim);
        self.pedido_pendente = false;
        linha
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

    /// Clears the screen, when it is a terminal.
    pub fn limpar(&mut self) {
        if self.impressora.is_some() {
            self.mostrar("\x1b[2J\x1b[H");
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
        // The editing thread may still be inside `readline`, with the terminal in raw mode and
        // the last messages queued in the external printer's pipe: give it a moment to show them.
        if self.pedido_pendente {
            thread::sleep(ESCOAMENTO_DA_IMPRESSORA);
        }
        if let Some(original) = &self.original {
            let _ = tcsetattr(io::stdin(), SetArg::TCSANOW, original);
        }
        if self.impressora.is_some() {
            // Erase the prompt the editing thread left on the last line.
            let mut saida = io::stdout().lock();
            let _ = write!(saida, "\r\x1b[2K");
            let _ = saida.flush();
        }
    }
}

/// The input thread at a terminal: edits one line per request.
fn editar_linhas(
    mut editor: DefaultEditor,
    pedidos: std_mpsc::Receiver<()>,
    tx: mpsc::Sender<Linha>,
) {
    while pedidos.recv().is_ok() {
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
