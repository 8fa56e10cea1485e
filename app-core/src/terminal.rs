//! The plain faces of the apps: lines in from stdin, one event per line out on stdout.
//!
//! Used when stdin or stdout is not a terminal (pipes, scripts) and with `--json`; a person at a
//! terminal gets the full-screen interface of [`crate::tela`] instead.

use std::io::{self, BufRead, IsTerminal, Write};
use std::thread;

use proto::validacao::validar_nome;
use tokio::sync::mpsc;

/// One thing read from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linha {
    /// A line, without its line break.
    Texto(String),
    /// End of input.
    Fim,
}

/// Whether a person is at the keyboard: stdin and stdout both a terminal.
pub fn interativo() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Asks for a name until a valid one is given; `None` if input ends first. Runs before the
/// async runtime starts, because it blocks. The question goes to stdout for a person, to stderr
/// when stdout is for a program.
pub fn perguntar_nome(interativo: bool, json: bool) -> Option<String> {
    let para_pessoa = interativo && !json;
    let perguntar = |texto: &str| {
        if para_pessoa {
            print!("{texto}");
            let _ = io::stdout().flush();
        } else {
            eprint!("{texto}");
        }
    };
    let mut linha = String::new();
    loop {
        perguntar("Seu nome: ");
        linha.clear();
        if io::stdin().lock().read_line(&mut linha).ok()? == 0 {
            return None;
        }
        match validar_nome(&linha) {
            Ok(nome) => return Some(nome),
            Err(erro) => perguntar(&format!("Nome inválido: {erro}.\n")),
        }
    }
}

/// Offers the broker's departments as a numbered menu and reads the choice (Enter: the first);
/// `None` if input ends first. Blocks, like [`perguntar_nome`].
pub fn escolher_departamento(nomes: &[String]) -> Option<String> {
    let mut saida = io::stdout().lock();
    let _ = writeln!(saida, "Departamentos:");
    for (i, nome) in nomes.iter().enumerate() {
        let _ = writeln!(saida, "  {}. {nome}", i + 1);
    }
    drop(saida);
    let mut linha = String::new();
    loop {
        print!(
            "Escolha o departamento (número ou nome; Enter: {}): ",
            nomes[0]
        );
        let _ = io::stdout().flush();
        linha.clear();
        if io::stdin().lock().read_line(&mut linha).ok()? == 0 {
            return None;
        }
        match escolha(nomes, linha.trim()) {
            Some(nome) => return Some(nome),
            None => println!(
                "Não há essa opção; digite um número de 1 a {}.",
                nomes.len()
            ),
        }
    }
}

/// The department picked by `resposta` from the menu of `nomes`: empty is the first, a number
/// its entry, a name (in any case) itself.
fn escolha(nomes: &[String], resposta: &str) -> Option<String> {
    if resposta.is_empty() {
        return nomes.first().cloned();
    }
    if let Ok(numero) = resposta.parse::<usize>() {
        return nomes.get(numero.checked_sub(1)?).cloned();
    }
    let resposta = resposta.to_lowercase();
    nomes.iter().find(|nome| **nome == resposta).cloned()
}

/// Lines in from stdin, text out on stdout.
pub struct Terminal {
    /// Lines from the input thread.
    linhas: mpsc::Receiver<Linha>,
    /// Whether stdout carries JSON (notices then go to stderr).
    json: bool,
}

impl Terminal {
    /// Starts reading stdin on a thread of its own.
    pub fn abrir(json: bool) -> Terminal {
        let (tx, linhas) = mpsc::channel(64);
        thread::spawn(move || ler_linhas(tx));
        Terminal { linhas, json }
    }

    /// The next line; [`Linha::Fim`] once input has ended. Cancel-safe.
    pub async fn proxima(&mut self) -> Linha {
        self.linhas.recv().await.unwrap_or(Linha::Fim)
    }

    /// Prints an event (a sentence, or a JSON line) on stdout.
    pub fn mostrar(&mut self, texto: &str) {
        let mut saida = io::stdout().lock();
        let _ = writeln!(saida, "{texto}");
        let _ = saida.flush();
    }

    /// Prints a notice from the app itself (help, a command it does not know): on stdout for
    /// people, on stderr when stdout carries JSON.
    pub fn avisar(&mut self, texto: &str) {
        if self.json {
            eprintln!("{texto}");
        } else {
            self.mostrar(texto);
        }
    }
}

/// The input thread.
fn ler_linhas(tx: mpsc::Sender<Linha>) {
    for linha in io::stdin().lock().lines() {
        let Ok(texto) = linha else { break };
        if tx.blocking_send(Linha::Texto(texto)).is_err() {
            return;
        }
    }
    let _ = tx.blocking_send(Linha::Fim);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escolha_do_menu() {
        let nomes = vec!["geral".to_owned(), "vendas".to_owned()];
        assert_eq!(escolha(&nomes, ""), Some("geral".to_owned()));
        assert_eq!(escolha(&nomes, "2"), Some("vendas".to_owned()));
        assert_eq!(escolha(&nomes, "Vendas"), Some("vendas".to_owned()));
        assert_eq!(escolha(&nomes, "3"), None);
        assert_eq!(escolha(&nomes, "0"), None);
        assert_eq!(escolha(&nomes, "rh"), None);
    }
}
