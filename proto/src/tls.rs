//! TLS for the protocol: rustls with the ring provider, certificates and keys read from PEM
//! files. The broker serves TLS when given a certificate and key; the apps use it with `--tls`,
//! trusting a CA file of their own or the usual public roots. Plain TCP stays for localhost.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use thiserror::Error;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use tokio_rustls::{TlsAcceptor, TlsConnector, rustls, server};

/// Why TLS could not be set up.
#[derive(Debug, Error)]
pub enum ErroTls {
    /// A PEM file could not be read or parsed.
    #[error("não foi possível ler {caminho}: {motivo}")]
    Arquivo {
        /// The file.
        caminho: PathBuf,
        /// What went wrong.
        motivo: String,
    },
    /// The certificate file holds no certificate.
    #[error("{0} não tem nenhum certificado")]
    SemCertificado(PathBuf),
    /// rustls refused the configuration (a key that does not match the certificate, ...).
    #[error("configuração TLS inválida: {0}")]
    Rustls(#[from] rustls::Error),
    /// The broker's address has no host name or IP that TLS can check.
    #[error("endereço inválido para TLS: {0}")]
    Endereco(String),
}

fn provedor() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificados(caminho: &Path) -> Result<Vec<CertificateDer<'static>>, ErroTls> {
    let arquivo = |motivo: String| ErroTls::Arquivo {
        caminho: caminho.to_owned(),
        motivo,
    };
    let certificados = CertificateDer::pem_file_iter(caminho)
        .map_err(|e| arquivo(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| arquivo(e.to_string()))?;
    if certificados.is_empty() {
        return Err(ErroTls::SemCertificado(caminho.to_owned()));
    }
    Ok(certificados)
}

/// The broker's TLS configuration, from a PEM certificate chain and its PEM private key.
pub fn configuracao_servidor(
    certificado: &Path,
    chave: &Path,
) -> Result<Arc<ServerConfig>, ErroTls> {
    let cadeia = certificados(certificado)?;
    let chave = PrivateKeyDer::from_pem_file(chave).map_err(|e| ErroTls::Arquivo {
        caminho: chave.to_owned(),
        motivo: e.to_string(),
    })?;
    let config = ServerConfig::builder_with_provider(provedor())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cadeia, chave)?;
    Ok(Arc::new(config))
}

/// A client's TLS configuration: trusting the CA certificates in `ca` if given, else the usual
/// public roots.
pub fn configuracao_cliente(ca: Option<&Path>) -> Result<Arc<ClientConfig>, ErroTls> {
    let mut raizes = RootCertStore::empty();
    match ca {
        Some(caminho) => {
            for certificado in certificados(caminho)? {
                raizes.add(certificado)?;
            }
        }
        None => raizes.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = ClientConfig::builder_with_provider(provedor())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(raizes)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name TLS checks the broker's certificate against: the host part of `host:porta`
/// (a DNS name or an IP address; IPv6 in brackets).
pub fn nome_do_servidor(endereco: &str) -> Result<ServerName<'static>, ErroTls> {
    let host = match endereco.rsplit_once(':') {
        Some((host, porta)) if porta.parse::<u16>().is_ok() => host,
        _ => endereco,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| ErroTls::Endereco(endereco.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomes_de_servidor() {
        assert_eq!(
            nome_do_servidor("localhost:7878").unwrap(),
            ServerName::try_from("localhost").unwrap()
        );
        assert_eq!(
            nome_do_servidor("127.0.0.1:7878").unwrap(),
            ServerName::try_from("127.0.0.1").unwrap()
        );
        assert_eq!(
            nome_do_servidor("[::1]:7878").unwrap(),
            ServerName::try_from("::1").unwrap()
        );
        assert!(nome_do_servidor("não é um nome:1").is_err());
    }
}
