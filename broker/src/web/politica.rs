//! Which sites the web listener trusts: reading `--origens`, the `Origin` check of a WebSocket
//! request, and the page's Content-Security-Policy, which lets only those sites frame it.

use axum::http::HeaderValue;
use axum::http::header::{self, HeaderMap};

/// Reads one origin of `--origens` (`https://loja.com.br`, `http://localhost:8080`) in the form a
/// browser sends it in `Origin`: lowercase, no default port, no trailing slash. Anything else (a
/// path, a user, a non-ASCII host: browsers send those in punycode) is refused with the reason.
pub fn normalizar_origem(texto: &str) -> Result<String, String> {
    let bruta = texto.trim();
    let recusa = || {
        format!("origem inválida \"{bruta}\": escreva como https://loja.exemplo.com (sem caminho)")
    };
    let minuscula = bruta.trim_end_matches('/').to_ascii_lowercase();
    let (esquema, autoridade) = minuscula.split_once("://").ok_or_else(recusa)?;
    let padrao = match esquema {
        "http" => "80",
        "https" => "443",
        _ => return Err(recusa()),
    };
    let (host, porta) = match autoridade.rsplit_once(':') {
        Some((host, porta)) => (host, Some(porta)),
        None => (autoridade, None),
    };
    let host_valido = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let porta_valida = porta.is_none_or(|porta| porta.parse::<u16>().is_ok_and(|n| n > 0));
    if !host_valido || !porta_valida {
        return Err(recusa());
    }
    Ok(match porta {
        Some(porta) if porta != padrao => format!("{esquema}://{host}:{porta}"),
        _ => format!("{esquema}://{host}"),
    })
}

/// Whether a WebSocket request may connect: no `Origin` (not a browser: nothing to protect
/// from it), the origin of the page's own address (the `Host` the browser asked for), or one
/// of the allowed origins (normalized by [`normalizar_origem`]).
pub fn origem_permitida(cabecalhos: &HeaderMap, permitidas: &[String]) -> bool {
    let Some(origem) = cabecalhos.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origem) = origem.to_str() else {
        return false;
    };
    let origem = origem.to_ascii_lowercase();
    if permitidas.contains(&origem) {
        return true;
    }
    let host = cabecalhos
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(str::to_ascii_lowercase);
    match (origem.split_once("://"), host) {
        (Some((_, autoridade)), Some(host)) => autoridade == host,
        _ => false,
    }
}

/// The page's Content-Security-Policy: its own files only, WebSocket to its own origin, and
/// framed only by itself and the allowed origins (normalized: they cannot carry a `;`).
pub fn seguranca_do_conteudo(origens: &[String]) -> HeaderValue {
    let mut molduras = String::from("'self'");
    for origem in origens {
        molduras.push(' ');
        molduras.push_str(origem);
    }
    let texto = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors {molduras}"
    );
    // A normalized origin is plain ASCII, so this never falls back; if it did, the page would
    // be framed by nobody but itself.
    HeaderValue::from_str(&texto).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             frame-ancestors 'self'",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_as_browsers_send_them() {
        let casos = [
            ("https://Loja.COM.br/", "https://loja.com.br"),
            ("https://loja.com.br:443", "https://loja.com.br"),
            ("http://localhost:80", "http://localhost"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ];
        for (texto, esperado) in casos {
            assert_eq!(normalizar_origem(texto).as_deref(), Ok(esperado), "{texto}");
        }
        for errado in [
            "loja.com.br",
            "ftp://loja.com.br",
            "https://loja.com.br/chat",
            "https://a;sandbox",
            "https://eu@loja.com.br",
            "https://lojá.com.br",
            "https://loja.com.br:0",
            "https://loja.com.br:99999",
            "https://*.loja.com.br",
            "https://",
        ] {
            assert!(normalizar_origem(errado).is_err(), "{errado}");
        }
    }

    fn pedido(origem: Option<&str>, host: &str) -> HeaderMap {
        let mut cabecalhos = HeaderMap::new();
        cabecalhos.insert(
            header::HOST,
            HeaderValue::from_str(host).unwrap_or_else(|_| HeaderValue::from_static("x")),
        );
        if let Some(origem) = origem {
            cabecalhos.insert(
                header::ORIGIN,
                HeaderValue::from_str(origem).unwrap_or_else(|_| HeaderValue::from_static("x")),
            );
        }
        cabecalhos
    }

    #[test]
    fn the_origin_check_takes_the_page_itself_the_list_and_non_browsers() {
        let lista = vec!["https://loja.com.br".to_owned()];
        assert!(origem_permitida(&pedido(None, "chat.loja.com.br"), &lista));
        assert!(origem_permitida(
            &pedido(Some("https://chat.loja.com.br"), "chat.loja.com.br"),
            &lista
        ));
        assert!(origem_permitida(
            &pedido(Some("https://LOJA.com.br"), "chat.loja.com.br"),
            &lista
        ));
        assert!(!origem_permitida(
            &pedido(Some("https://loja.com.br.evil.com"), "chat.loja.com.br"),
            &lista
        ));
        assert!(!origem_permitida(
            &pedido(Some("null"), "chat.loja.com.br"),
            &lista
        ));
        assert!(!origem_permitida(
            &pedido(Some("https://chat.loja.com.br:8443"), "chat.loja.com.br"),
            &lista
        ));
    }

    #[test]
    fn only_the_listed_sites_may_frame_the_page() {
        let politica = seguranca_do_conteudo(&["https://loja.com.br".to_owned()]);
        let texto = politica.to_str().unwrap_or_default();
        assert!(
            texto.ends_with("frame-ancestors 'self' https://loja.com.br"),
            "{texto}"
        );
        assert!(texto.contains("default-src 'none'"), "{texto}");
    }
}
