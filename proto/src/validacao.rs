//! What counts as a valid name, department and chat text.
//!
//! The broker enforces these rules; the apps apply the same functions before sending, so that a
//! person hears about a typo at once instead of from a refused connection.

use thiserror::Error;

/// Most characters a name or a department name may have, after trimming.
pub const NOME_MAXIMO: usize = 64;

/// Most bytes (UTF-8) a chat text may have. Well below the frame size, so a relayed chat frame
/// (text plus the sender's name) always fits in a frame.
pub const TEXTO_MAXIMO: usize = 16 * 1024;

/// Why a name or department name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NomeInvalido {
    /// Nothing left after trimming.
    #[error("o nome não pode ficar vazio")]
    Vazio,
    /// Longer than allowed.
    #[error("o nome é longo demais")]
    Longo,
    /// A control character (line break, escape, ...).
    #[error("o nome não pode ter caracteres de controle")]
    Controle,
}

/// Why a chat text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TextoInvalido {
    /// Empty or only white space.
    #[error("a mensagem está vazia")]
    Vazio,
    /// Longer than allowed.
    #[error("a mensagem é longa demais")]
    Longo,
    /// A control character other than line break or tab.
    #[error("a mensagem não pode ter caracteres de controle")]
    Controle,
}

/// Trims a person's name and checks it (rule 10 of the matchmaking): non-empty, at most
/// [`NOME_MAXIMO`] characters, no control characters. Returns the trimmed name.
pub fn validar_nome(bruto: &str) -> Result<String, NomeInvalido> {
    validar_nome_ate(bruto, NOME_MAXIMO)
}

/// [`validar_nome`] with another length limit (a broker setting).
pub fn validar_nome_ate(bruto: &str, maximo: usize) -> Result<String, NomeInvalido> {
    let nome = bruto.trim();
    if nome.is_empty() {
        Err(NomeInvalido::Vazio)
    } else if nome.chars().count() > maximo {
        Err(NomeInvalido::Longo)
    } else if nome.chars().any(char::is_control) {
        Err(NomeInvalido::Controle)
    } else {
        Ok(nome.to_owned())
    }
}

/// Checks a department name like a person's name and lowercases it, so that `Vendas` and
/// `vendas` are the same line.
pub fn normalizar_departamento(bruto: &str) -> Result<String, NomeInvalido> {
    normalizar_departamento_ate(bruto, NOME_MAXIMO)
}

/// [`normalizar_departamento`] with another length limit (a broker setting).
pub fn normalizar_departamento_ate(bruto: &str, maximo: usize) -> Result<String, NomeInvalido> {
    validar_nome_ate(bruto, maximo).map(|nome| nome.to_lowercase())
}

/// Checks a chat text: not blank, at most [`TEXTO_MAXIMO`] bytes, and no control characters
/// except line breaks and tabs (so no peer can send terminal escape sequences).
pub fn validar_texto(texto: &str) -> Result<(), TextoInvalido> {
    validar_texto_ate(texto, TEXTO_MAXIMO)
}

/// [`validar_texto`] with another length limit, in bytes (a broker setting).
pub fn validar_texto_ate(texto: &str, maximo: usize) -> Result<(), TextoInvalido> {
    if texto.trim().is_empty() {
        Err(TextoInvalido::Vazio)
    } else if texto.len() > maximo {
        Err(TextoInvalido::Longo)
    } else if texto
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Err(TextoInvalido::Controle)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomes() {
        assert_eq!(validar_nome("  Ana Júlia \t").unwrap(), "Ana Júlia");
        assert_eq!(validar_nome("   "), Err(NomeInvalido::Vazio));
        assert_eq!(validar_nome(&"á".repeat(64)).unwrap(), "á".repeat(64));
        assert_eq!(validar_nome(&"á".repeat(65)), Err(NomeInvalido::Longo));
        assert_eq!(validar_nome("Ana\nBeto"), Err(NomeInvalido::Controle));
        assert_eq!(validar_nome("Ana\u{1b}[2J"), Err(NomeInvalido::Controle));
    }

    #[test]
    fn departamentos_ignoram_caixa() {
        assert_eq!(normalizar_departamento(" Vendas ").unwrap(), "vendas");
        assert_eq!(normalizar_departamento(""), Err(NomeInvalido::Vazio));
    }

    #[test]
    fn textos() {
        assert!(validar_texto("olá, tudo bem? 👋").is_ok());
        assert!(validar_texto("linha 1\nlinha 2\tfim").is_ok());
        assert_eq!(validar_texto(" \n "), Err(TextoInvalido::Vazio));
        assert_eq!(validar_texto("\u{1b}[31m"), Err(TextoInvalido::Controle));
        assert!(validar_texto(&"a".repeat(TEXTO_MAXIMO)).is_ok());
        assert_eq!(
            validar_texto(&"a".repeat(TEXTO_MAXIMO + 1)),
            Err(TextoInvalido::Longo)
        );
    }
}
