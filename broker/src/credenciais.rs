//! Agent and supervisor credentials: where they live, how they are created on first start, and
//! how a handshake's token is checked against them (in constant time).
//!
//! Each role has its file ([`ATENDENTES`], [`SUPERVISORES`]), one token per line (lines starting
//! with `#` are comments). A broker started with no token of its own and no file creates the
//! file with one fresh random token, readable only by its owner, and says where it is and how
//! to use it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

/// One role's credentials file.
#[derive(Debug, Clone, Copy)]
pub struct Arquivo {
    /// Its name inside the data directory.
    pub nome: &'static str,
    /// The broker's option that gives a token instead.
    pub opcao: &'static str,
    /// The comment it starts with.
    cabecalho: &'static str,
}

/// The agents' tokens.
pub const ATENDENTES: Arquivo = Arquivo {
    nome: "tokens-atendentes.txt",
    opcao: "--token-atendente",
    cabecalho: "# Tokens dos atendentes, um por linha. Quem tem um deles pode atender clientes.",
};

/// The supervisors' tokens.
pub const SUPERVISORES: Arquivo = Arquivo {
    nome: "tokens-supervisores.txt",
    opcao: "--token-supervisor",
    cabecalho: "# Tokens dos supervisores, um por linha. Quem tem um deles vê o painel: as filas, \
                os atendentes e os nomes dos clientes em conversa.",
};

/// The environment variable `atendente` reads its token from.
pub const VARIAVEL_DO_ATENDENTE: &str = "FILA_TOKEN";

/// Where the broker keeps its data when not told: `$XDG_DATA_HOME/fila-atendimento`, else
/// `~/.local/share/fila-atendimento`, else `./fila-dados`.
pub fn diretorio_padrao() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("fila-atendimento");
    }
    if let Some(casa) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(casa).join(".local/share/fila-atendimento");
    }
    PathBuf::from("fila-dados")
}

/// The credentials of `arquivo` in `diretorio`, creating the file with a fresh token when there
/// is none. Returns the tokens and whether the file was just created.
pub fn carregar_ou_criar(diretorio: &Path, arquivo: Arquivo) -> io::Result<(Vec<String>, bool)> {
    let cabecalho = arquivo.cabecalho;
    let caminho = diretorio.join(arquivo.nome);
    match fs::read_to_string(&caminho) {
        Ok(conteudo) => {
            let tokens: Vec<String> = conteudo
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect();
            if tokens.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} não tem nenhum token", caminho.display()),
                ));
            }
            Ok((tokens, false))
        }
        Err(erro) if erro.kind() == io::ErrorKind::NotFound => {
            let token = novo_token()?;
            fs::create_dir_all(diretorio)?;
            let mut arquivo = criar_privado(&caminho)?;
            writeln!(arquivo, "{cabecalho}")?;
            writeln!(arquivo, "{token}")?;
            Ok((vec![token], true))
        }
        Err(erro) => Err(erro),
    }
}

/// A new random token: 32 bytes from the operating system, in hexadecimal.
pub fn novo_token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `apresentado` is one of `tokens`. Every token is compared in full, in constant time,
/// so the time taken says nothing about how close a guess was.
pub fn autorizado(tokens: &[String], apresentado: Option<&str>) -> bool {
    let Some(apresentado) = apresentado else {
        return false;
    };
    tokens.iter().fold(false, |achou, token| {
        achou | bool::from(token.as_bytes().ct_eq(apresentado.as_bytes()))
    })
}

#[cfg(unix)]
fn criar_privado(caminho: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(caminho)
}

#[cfg(not(unix))]
fn criar_privado(caminho: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(caminho)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cria_uma_vez_e_depois_le() {
        let diretorio = std::env::temp_dir().join(format!("fila-cred-{}", std::process::id()));
        let _ = fs::remove_dir_all(&diretorio);
        let (tokens, criado) = carregar_ou_criar(&diretorio, ATENDENTES).unwrap();
        assert!(criado);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].len(), 64);
        let (de_novo, criado) = carregar_ou_criar(&diretorio, ATENDENTES).unwrap();
        assert!(!criado);
        assert_eq!(de_novo, tokens);
        let (supervisores, criado) = carregar_ou_criar(&diretorio, SUPERVISORES).unwrap();
        assert!(criado);
        assert_ne!(supervisores, tokens, "cada papel tem o seu token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let modo = fs::metadata(diretorio.join(ATENDENTES.nome))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(modo & 0o777, 0o600);
        }
        fs::remove_dir_all(&diretorio).unwrap();
    }

    #[test]
    fn so_um_token_exato_autoriza() {
        let tokens = vec!["abc123".to_owned(), "outro".to_owned()];
        assert!(autorizado(&tokens, Some("abc123")));
        assert!(autorizado(&tokens, Some("outro")));
        assert!(!autorizado(&tokens, Some("abc12")));
        assert!(!autorizado(&tokens, Some("abc1234")));
        assert!(!autorizado(&tokens, Some("")));
        assert!(!autorizado(&tokens, None));
        assert!(!autorizado(&[], Some("abc123")));
    }
}
