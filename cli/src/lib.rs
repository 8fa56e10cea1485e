//! Command-line parsing that speaks Portuguese, for the three binaries people run.
//!
//! clap writes its help headings and its error messages in English; the people who run the
//! broker and the apps read Portuguese. This crate holds the help layout they share and turns
//! clap's parse errors into Portuguese sentences, and says durations the way the broker's reports
//! and the apps both do ([`duracao`]). A crate of its own because the broker and the two apps
//! all need it and share nothing else outside the protocol.

use clap::Parser;
use clap::error::{ContextKind, ErrorKind};

/// The help layout, with Portuguese headings.
pub const MODELO_AJUDA: &str = "{about}\n\nUso: {usage}\n\nOpções:\n{options}{after-help}";

/// Parses the process's arguments; on a mistake, explains it in Portuguese and exits with
/// status 2. `--help` and `--version` print and exit 0 as usual.
pub fn analisar<T: Parser>() -> T {
    match T::try_parse() {
        Ok(argumentos) => argumentos,
        Err(erro)
            if matches!(
                erro.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            erro.exit()
        }
        Err(erro) => {
            eprintln!("Erro: {}", traduzir(&erro));
            eprintln!("Use --help para ver as opções.");
            std::process::exit(2)
        }
    }
}

/// The bounds of a ranged number in clap's message for a value out of range ("11 is not in
/// 1..=10").
fn faixa(mensagem: &str) -> Option<(String, String)> {
    let (_, faixa) = mensagem.split_once(" is not in ")?;
    let (de, ate) = faixa.trim().split_once("..=")?;
    Some((de.to_owned(), ate.to_owned()))
}

/// A parse error as a Portuguese sentence.
pub fn traduzir(erro: &clap::Error) -> String {
    let contexto = |tipo| erro.get(tipo).map(ToString::to_string).unwrap_or_default();
    let argumento = contexto(ContextKind::InvalidArg);
    let valor = contexto(ContextKind::InvalidValue);
    match erro.kind() {
        ErrorKind::UnknownArgument => {
            let sugestao = contexto(ContextKind::SuggestedArg);
            if sugestao.is_empty() {
                format!("opção desconhecida: {argumento}")
            } else {
                format!("opção desconhecida: {argumento} (você quis dizer {sugestao}?)")
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            match std::error::Error::source(erro).and_then(|e| faixa(&e.to_string())) {
                Some((de, ate)) => {
                    format!("valor inválido '{valor}' para {argumento}: use de {de} a {ate}")
                }
                None => format!("valor inválido '{valor}' para {argumento}"),
            }
        }
        ErrorKind::MissingRequiredArgument => format!("faltou informar {argumento}"),
        ErrorKind::ArgumentConflict => {
            format!("{argumento} não pode ser usado com essa combinação")
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            format!("número errado de valores para {argumento}")
        }
        ErrorKind::InvalidUtf8 => "os argumentos devem ser texto UTF-8".to_owned(),
        _ => "argumentos inválidos".to_owned(),
    }
}

/// A duration in milliseconds as people say it: "40 s", "3 min 5 s", "1 h 2 min".
pub fn duracao(ms: u64) -> String {
    let segundos = ms / 1000;
    match segundos {
        0..60 => format!("{segundos} s"),
        60..3600 => format!("{} min {} s", segundos / 60, segundos % 60),
        _ => format!("{} h {} min", segundos / 3600, segundos % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Exemplo {
        #[arg(long)]
        nome: Option<String>,
        #[arg(long)]
        porta: Option<u16>,
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
        vagas: Option<u8>,
    }

    #[test]
    fn erros_em_portugues() {
        let erro = Exemplo::try_parse_from(["x", "--nomee", "a"]).unwrap_err();
        assert_eq!(
            traduzir(&erro),
            "opção desconhecida: --nomee (você quis dizer --nome?)"
        );
        let erro = Exemplo::try_parse_from(["x", "--porta", "muitas"]).unwrap_err();
        assert_eq!(
            traduzir(&erro),
            "valor inválido 'muitas' para --porta <PORTA>"
        );
        let erro = Exemplo::try_parse_from(["x", "--vagas", "11"]).unwrap_err();
        assert_eq!(
            traduzir(&erro),
            "valor inválido '11' para --vagas <VAGAS>: use de 1 a 10"
        );
    }
}
